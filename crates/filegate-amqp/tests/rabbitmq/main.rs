//! The RabbitMQ engine against a real broker: `FILEGATE_TEST_AMQP_URL`, e.g.
//! `amqp://guest:guest@127.0.0.1:5672/%2f`. Unset: skipped with a note, except under
//! `CI=true`, where that fails. Each test names its own queues and exchanges (a fresh
//! prefix) and deletes them when it ends, passed or not.

mod connection;
mod queue;
mod relay;
mod support;
