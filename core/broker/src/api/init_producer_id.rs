//! InitProducerId: producer ids for idempotent producers.

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use kafka_protocol::ResponseError;

use crate::Broker;

impl Broker {
    /// InitProducerId for idempotent (non-transactional) producers.
    pub(crate) fn init_producer_id(&self, req: InitProducerIdRequest) -> InitProducerIdResponse {
        let mut response = InitProducerIdResponse::default();
        response.producer_id = ProducerId(-1);
        response.producer_epoch = -1;
        if req.transactional_id.is_some() {
            // Transactions are not implemented: refuse clearly instead of pretending.
            response.error_code = ResponseError::TransactionalIdAuthorizationFailed.code();
            return response;
        }
        // An existing producer asking for an epoch bump (KIP-360) keeps its id.
        if req.producer_id.0 >= 0 && (0..i16::MAX - 1).contains(&req.producer_epoch) {
            response.producer_id = req.producer_id;
            response.producer_epoch = req.producer_epoch + 1;
            return response;
        }
        match self.producer_ids.next_id() {
            Ok(id) => {
                response.producer_id = ProducerId(id);
                response.producer_epoch = 0;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot reserve producer ids");
                response.error_code = ResponseError::CoordinatorNotAvailable.code();
            }
        }
        response
    }
}
