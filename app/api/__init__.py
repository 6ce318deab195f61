"""HTTP routers, one module per resource. Routes parse, call one service, return a schema."""
