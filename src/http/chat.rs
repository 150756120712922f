use axum::response::Html;

/// The site's web chat: a small page that starts a lead and shows the conversation.
#[utoipa::path(
    get, path = "/chat", tag = "web chat", responses((status = 200, description = "The web chat page", body = String, content_type = "text/html"))
)]
pub async fn page() -> Html<&'static str> {
    Html(include_str!("chat.html"))
}
