#pragma once
// Loopback ports for the test servers (PostgreSQL, FerretDB, versitygw, the test cluster).
//
// Not ports the kernel hands out for bind(0): those come from the ephemeral range, where
// the next outgoing connection (decant to a server, say) may take the port between the
// check and the server's own bind, and the server fails with "address already in use".
// These are random ports below that range, checked free, never handed out twice by one
// process.

namespace decant::test {

int free_port();
// The first of `count` consecutive free ports.
int free_port_block(int count);

}  // namespace decant::test
