//! What coordinators settle by hand: participants' direct identifiers kept in contact records
//! apart from their data ([`contacts`]), reviewers' decisions on conflicts and quarantined
//! changes ([`decisions`]), a participant's erasure ([`erasure`]), and merged records as
//! members read them ([`records`]).

pub mod contacts;
pub mod decisions;
pub mod erasure;
pub mod records;
