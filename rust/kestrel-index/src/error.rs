//! What can go wrong building an index: a rule's IR does not load.

use kestrel_ir::IrError;

#[derive(Debug, thiserror::Error)]
#[error("rule {rule}: {source}")]
pub struct IndexError {
    /// The rule's position in the list the index was built from.
    pub rule: usize,
    #[source]
    pub source: IrError,
}
