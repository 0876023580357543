//! Test support: fake peers on socket pairs.

use custos_ipc::Envelope;
use std::sync::{Arc, Mutex};

/// Answers one request.
pub type Handler<Q, A> = Arc<Mutex<Box<dyn FnMut(Q) -> A + Send>>>;

/// Answers every request on `socket` with `handler`, until the test ends.
pub fn fake_peer<Q, A>(socket: tokio::net::UnixStream, handler: Handler<Q, A>)
where
    Q: serde::de::DeserializeOwned + Send + 'static,
    A: serde::Serialize + Send + Sync + 'static,
{
    tokio::spawn(async move {
        let (mut r, mut w) = socket.into_split();
        while let Ok(Envelope::<Q> { id, body }) = custos_supervisor::aio::read_frame(&mut r).await
        {
            let answer = (handler.lock().unwrap())(body);
            if custos_supervisor::aio::write_frame(&mut w, &Envelope { id, body: answer })
                .await
                .is_err()
            {
                break;
            }
        }
        // Keep the socket open: the bridge exits when a link is lost.
        std::future::pending::<()>().await;
    });
}
