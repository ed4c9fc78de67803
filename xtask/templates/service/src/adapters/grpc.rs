//! The gRPC face of the {{name}} service: decodes requests, calls the use cases, maps their
//! errors to status codes. The only place that knows both.

use shop_auth::grpc::caller;
use shop_platform::access::{AccessTable, Allow, Rule};
use shop_platform::grpc_status;
use shop_proto::convert::timestamp;
use shop_proto::{{name}}::v1 as pb;
use shop_proto::{{name}}::v1::{{name}}_service_server::{{Name}}Service;
use tonic::{Request, Response, Status};

use crate::app::{NoteError, Notes};
use crate::domain::Note;

/// Who may call each RPC: customers write notes, anyone reads them.
pub static ACCESS: AccessTable = AccessTable::new(
    "shop.{{name}}.v1.{{Name}}Service",
    &[
        Rule::new("CreateNote", &[Allow::Customers]),
        Rule::new("GetNote", &[Allow::Anyone]),
    ],
);

/// Implements `shop.{{name}}.v1.{{Name}}Service` over the [`Notes`] application.
#[derive(Debug, Clone)]
pub struct Grpc{{Name}}Service {
    notes: Notes,
}

impl Grpc{{Name}}Service {
    pub fn new(notes: Notes) -> Self {
        Self { notes }
    }
}

impl From<NoteError> for Status {
    fn from(err: NoteError) -> Self {
        match err {
            NoteError::Invalid(violations) => grpc_status::invalid_argument(&violations),
            NoteError::NotFound => Status::not_found("no such note"),
            NoteError::Unexpected(err) => grpc_status::internal(&err),
        }
    }
}

fn note(n: &Note) -> pb::Note {
    pb::Note {
        id: n.id().to_string(),
        author_id: n.author_id().to_string(),
        text: n.text().to_owned(),
        created_at: Some(timestamp(n.created_at())),
    }
}

#[tonic::async_trait]
impl {{Name}}Service for Grpc{{Name}}Service {
    async fn create_note(
        &self,
        request: Request<pb::CreateNoteRequest>,
    ) -> Result<Response<pb::CreateNoteResponse>, Status> {
        let caller = caller(&request)?;
        let written = self.notes.create_note(&caller, &request.get_ref().text).await?;
        Ok(Response::new(pb::CreateNoteResponse {
            note: Some(note(&written)),
        }))
    }

    async fn get_note(
        &self,
        request: Request<pb::GetNoteRequest>,
    ) -> Result<Response<pb::GetNoteResponse>, Status> {
        let found = self.notes.get_note(&request.get_ref().note_id).await?;
        Ok(Response::new(pb::GetNoteResponse {
            note: Some(note(&found)),
        }))
    }
}
