//! What coordinators settle by hand: participants' direct identifiers kept in contact records
//! apart from their data ([`contacts`]), and a participant's erasure ([`erasure`]).

pub mod contacts;
pub mod erasure;
