"""The pieces of `benches/gen_server_logs.py`: the writer and ids every
server shares (`common`), and one module per server (`keycloak`, `hydra`)
that turns steps of traffic into that server's lines."""
