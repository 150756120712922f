//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` attributes: the
//! router is built from the same list (`utoipa_axum::routes!`), so a route cannot be served
//! without being documented. Served at `/api/openapi.json`.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// Every error answer: `{"error": "what went wrong"}`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: String,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "leadbot",
        description = "Takes over the first contact with every new sales lead: gets a phone number, hands the lead to the right manager."
    ),
    components(schemas(ErrorBody)),
    modifiers(&OperatorAuth),
    tags(
        (name = "leads", description = "Lead intake and the client side of a lead (chat token)"),
        (name = "operator", description = "The operator API (bearer token)"),
        (name = "webhooks", description = "CRM and messenger webhooks"),
        (name = "health", description = "Health and metrics"),
        (name = "web chat", description = "The built-in web chat page")
    )
)]
pub struct ApiDoc;

/// The operator API's bearer token.
struct OperatorAuth;

impl Modify for OperatorAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("operator", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}
