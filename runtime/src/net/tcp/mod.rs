//! TCP: [`TcpListener`], [`TcpStream`] and the stream's split halves.

mod listener;
mod socket;
mod split;
mod split_owned;
mod stream;

pub use listener::{Incoming, TcpListener};
pub use socket::TcpSocket;
pub use split::{ReadHalf, WriteHalf};
pub use split_owned::{OwnedReadHalf, OwnedWriteHalf, ReuniteError};
pub use stream::TcpStream;
