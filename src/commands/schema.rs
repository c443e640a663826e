//! `nlconf schema`: the JSON Schema (draft-07) of environment files, for editors (DESIGN §11).

use super::{Ctx, Status};

pub fn run(ctx: &mut Ctx) -> Status {
    ctx.ui.print(&crate::schema::json::environment_schema_text());
    Status::Ok
}
