//! The signer process: one socket to the bridge, a reader, a few workers and a writer.
//!
//! Requests are tagged with ids, so workers may answer out of order and the
//! bridge can keep many requests in flight. The writer batches whatever
//! answers are ready into one flush, which keeps syscalls per signature low
//! under load.

use crate::service::Service;
use custos_ipc::signer::{SignerRequest, SignerResponse};
use custos_ipc::{read_frame, write_frame, Envelope, FrameError};
use std::io::{BufReader, BufWriter, Write};
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread;

/// Requests queued between the reader and the workers. Bounded, so a flood
/// from the bridge waits in the socket instead of growing memory.
const QUEUE_DEPTH: usize = 4096;
/// Answers the inline loop may hold back to batch them into one write.
const MAX_UNFLUSHED: usize = 4;

/// Why the serving loop ended.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The bridge closed its end: normal shutdown.
    #[error("bridge closed the connection")]
    Closed,
    /// A frame was malformed or the socket failed; the signer stops rather
    /// than guess (fail closed).
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// Setting up the socket or threads failed.
    #[error("signer i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves requests from the bridge until it hangs up or misbehaves.
///
/// With one worker the signer runs inline on a single thread: read, handle,
/// write, and flush only when no further request is already buffered. That
/// avoids two thread hand-offs per request, which on a small machine cost
/// more than the signature itself. More workers spread signatures over cores.
pub fn serve(service: Arc<Service>, socket: UnixStream, workers: usize) -> Result<(), ServeError> {
    if workers <= 1 {
        return serve_inline(&service, socket);
    }
    let (req_tx, req_rx) = mpsc::sync_channel::<Envelope<SignerRequest>>(QUEUE_DEPTH);
    let (resp_tx, resp_rx) = mpsc::sync_channel::<Envelope<SignerResponse>>(QUEUE_DEPTH);
    let req_rx = Arc::new(Mutex::new(req_rx));

    let writer_socket = socket.try_clone()?;
    let writer = thread::Builder::new()
        .name("signer-writer".into())
        .spawn(move || write_loop(writer_socket, resp_rx))?;

    let mut handles = Vec::new();
    for i in 0..workers.max(1) {
        let rx = Arc::clone(&req_rx);
        let tx = resp_tx.clone();
        let svc = Arc::clone(&service);
        handles.push(
            thread::Builder::new()
                .name(format!("signer-worker-{i}"))
                .spawn(move || worker_loop(&svc, &rx, &tx))?,
        );
    }
    drop(resp_tx);

    let result = read_loop(socket, req_tx);
    for h in handles {
        let _ = h.join();
    }
    let _ = writer.join();
    result
}

fn serve_inline(service: &Service, socket: UnixStream) -> Result<(), ServeError> {
    let mut writer = BufWriter::with_capacity(64 * 1024, socket.try_clone()?);
    let mut reader = BufReader::with_capacity(64 * 1024, socket);
    let mut unflushed = 0usize;
    loop {
        let Envelope { id, body } = match read_frame::<Envelope<SignerRequest>, _>(&mut reader) {
            Ok(req) => req,
            Err(FrameError::Closed) => return Err(ServeError::Closed),
            Err(e) => return Err(e.into()),
        };
        let body = service.handle(body);
        write_frame(&mut writer, &Envelope { id, body })?;
        unflushed += 1;
        // Batch answers while more requests are already buffered, but never
        // hold more than a few: a full 64 KiB buffer of requests would
        // otherwise keep the first answer back for milliseconds.
        if reader.buffer().is_empty() || unflushed >= MAX_UNFLUSHED {
            writer.flush()?;
            unflushed = 0;
        }
    }
}

fn read_loop(
    socket: UnixStream,
    tx: SyncSender<Envelope<SignerRequest>>,
) -> Result<(), ServeError> {
    let mut reader = BufReader::with_capacity(64 * 1024, socket);
    loop {
        match read_frame::<Envelope<SignerRequest>, _>(&mut reader) {
            Ok(req) => {
                if tx.send(req).is_err() {
                    return Ok(());
                }
            }
            Err(FrameError::Closed) => return Err(ServeError::Closed),
            Err(e) => return Err(e.into()),
        }
    }
}

fn worker_loop(
    service: &Service,
    rx: &Mutex<Receiver<Envelope<SignerRequest>>>,
    tx: &SyncSender<Envelope<SignerResponse>>,
) {
    loop {
        let next = match rx.lock() {
            Ok(guard) => guard.recv(),
            Err(_) => return,
        };
        let Ok(Envelope { id, body }) = next else {
            return;
        };
        let body = service.handle(body);
        if tx.send(Envelope { id, body }).is_err() {
            return;
        }
    }
}

fn write_loop(socket: UnixStream, rx: Receiver<Envelope<SignerResponse>>) {
    let mut writer = BufWriter::with_capacity(64 * 1024, socket);
    while let Ok(first) = rx.recv() {
        if write_frame(&mut writer, &first).is_err() {
            return;
        }
        // Drain whatever else is ready, then flush once.
        while let Ok(more) = rx.try_recv() {
            if write_frame(&mut writer, &more).is_err() {
                return;
            }
        }
        if writer.flush().is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use custos_crypto::seal::DevSeal;
    use custos_ipc::signer::CreateWallet;
    use custos_txdecode::PolicyConfig;

    fn run(
        workers: usize,
    ) -> (
        tempfile::TempDir,
        UnixStream,
        thread::JoinHandle<Result<(), ServeError>>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let svc = Arc::new(
            Service::start(&DevSeal::in_data_dir(dir.path()), PolicyConfig::default()).unwrap(),
        );
        let (ours, theirs) = UnixStream::pair().unwrap();
        let handle = thread::spawn(move || serve(svc, theirs, workers));
        (dir, ours, handle)
    }

    fn exchange(workers: usize) {
        let (_dir, mut sock, handle) = run(workers);
        // Several requests in flight at once; answers are matched by id.
        for id in 0..50u64 {
            let body = if id % 2 == 0 {
                SignerRequest::Health
            } else {
                SignerRequest::CreateWallet(CreateWallet {
                    user_id: format!("u{id}"),
                    telegram_id: None,
                })
            };
            write_frame(&mut sock, &Envelope { id, body }).unwrap();
        }
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..50 {
            let resp: Envelope<SignerResponse> = read_frame(&mut sock).unwrap();
            match (resp.id % 2, &resp.body) {
                (0, SignerResponse::Health(_)) | (1, SignerResponse::WalletCreated(_)) => {}
                other => panic!("wrong answer for {}: {other:?}", resp.id),
            }
            assert!(seen.insert(resp.id));
        }
        drop(sock);
        assert!(matches!(handle.join().unwrap(), Err(ServeError::Closed)));
    }

    #[test]
    fn inline_loop_answers_every_request_and_stops_on_close() {
        exchange(1);
    }

    #[test]
    fn threaded_loop_answers_every_request_and_stops_on_close() {
        exchange(3);
    }

    #[test]
    fn a_bad_frame_stops_the_signer() {
        for workers in [1, 2] {
            let (_dir, mut sock, handle) = run(workers);
            sock.write_all(&[0xC5, 9, 0, 0, 1, 0, 0, 0, 0]).unwrap();
            let res = handle.join().unwrap();
            assert!(
                matches!(
                    res,
                    Err(ServeError::Frame(FrameError::Version { found: 9 }))
                ),
                "{res:?}"
            );
        }
    }
}
