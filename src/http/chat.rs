use axum::response::Html;

/// The site's web chat: a small page that starts a lead and shows the conversation.
pub async fn page() -> Html<&'static str> {
    Html(include_str!("chat.html"))
}
