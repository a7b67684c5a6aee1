//! TCP: hickory-server carries the connections (framing, idle timeouts); this handler
//! answers from the same `respond` as UDP.

use hickory_proto::op::{Header, HeaderCounts, MessageType, Metadata, ResponseCode};
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use tracing::debug;

use super::respond::{respond, RequestView};
use super::SharedTable;

pub struct TcpHandler {
    pub table: SharedTable,
}

#[async_trait::async_trait]
impl RequestHandler for TcpHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        // load_full: the table must outlive the await below.
        let table = self.table.load_full();
        let queries = request.queries.queries();
        let view = RequestView {
            metadata: &request.metadata,
            question: queries.first().map(|q| q.original()),
            question_count: queries.len(),
            edns: request.edns.as_ref(),
            src: request.src().ip(),
        };
        let reply = respond(&table, &view);
        let mut builder = MessageResponseBuilder::from_message_request(request);
        if let Some(edns) = &reply.edns {
            builder.edns(edns);
        }
        let response = builder.build(
            reply.metadata,
            reply.lookup.answers.iter().map(AsRef::as_ref),
            reply.lookup.authority.iter().map(AsRef::as_ref),
            std::iter::empty(),
            reply.lookup.additional.iter().map(AsRef::as_ref),
        );
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(e) => {
                debug!(error = %e, "tcp send failed");
                let mut m = Metadata::new(
                    request.metadata.id,
                    MessageType::Response,
                    request.metadata.op_code,
                );
                m.response_code = ResponseCode::ServFail;
                ResponseInfo::from(Header {
                    metadata: m,
                    counts: HeaderCounts::default(),
                })
            }
        }
    }
}
