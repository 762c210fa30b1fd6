//! TCP, UDP and Unix-domain sockets driven by the tether reactor.
