//! One module per subcommand: its arguments (clap) and its `run`, which
//! returns the [`Outcome`](crate::output::Outcome) or an error (exit 2).

pub(crate) mod check_proof;
pub(crate) mod checkpoint;
pub(crate) mod consistency;
pub(crate) mod evidence;
pub(crate) mod export_log;
pub(crate) mod prove;
pub(crate) mod ropa;
pub(crate) mod verify;
pub(crate) mod witness;
