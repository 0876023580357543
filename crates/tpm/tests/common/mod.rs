//! A real swtpm per test: started on free local ports with its own state directory,
//! killed when dropped.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use custos_tpm::{SwtpmTransport, Tpm};

/// A running `swtpm socket --tpm2`.
pub struct Swtpm {
    child: Child,
    /// The data channel (raw TPM commands).
    pub data: SocketAddr,
    /// The control channel (power on, reset).
    #[allow(dead_code)] // each test binary compiles this module; only one uses it
    pub ctrl: SocketAddr,
    _state: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Swtpm {
    /// Starts swtpm. With `powered`, it needs no `_TPM_Init` (`--flags not-need-init`),
    /// but TPM2_Startup has not run either.
    pub fn start(powered: bool) -> Self {
        Self::start_on(tempfile::tempdir().unwrap(), powered)
    }

    /// Stops swtpm and starts a new one on the same state directory: a TPM after a power
    /// cycle (TPM2_Startup has not run). NV contents survive; PCRs and objects do not.
    #[allow(dead_code)] // each test binary compiles this module; only one uses it
    pub fn restart(mut self) -> Self {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let state = std::mem::replace(&mut self._state, tempfile::tempdir().unwrap());
        Self::start_on(state, true)
    }

    fn start_on(state: tempfile::TempDir, powered: bool) -> Self {
        // A free port can be taken by someone else between our probe and swtpm's bind:
        // try a few times.
        let mut state = Some(state);
        for _ in 0..5 {
            let dir = state.take().unwrap_or_else(|| tempfile::tempdir().unwrap());
            let (data_port, ctrl_port) = (free_port(), free_port());
            let mut cmd = Command::new("swtpm");
            cmd.arg("socket")
                .arg("--tpm2")
                .arg("--tpmstate")
                .arg(format!("dir={}", dir.path().display()))
                .arg("--server")
                .arg(format!("type=tcp,port={data_port},bindaddr=127.0.0.1"))
                .arg("--ctrl")
                .arg(format!("type=tcp,port={ctrl_port},bindaddr=127.0.0.1"));
            if powered {
                cmd.arg("--flags").arg("not-need-init");
            }
            let child = match cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn() {
                Ok(c) => c,
                Err(e) => panic!(
                    "cannot run swtpm ({e}): install it with scripts/test.sh \
                     (Debian packages swtpm swtpm-tools)"
                ),
            };
            let data: SocketAddr = ([127, 0, 0, 1], data_port).into();
            let ctrl: SocketAddr = ([127, 0, 0, 1], ctrl_port).into();
            let mut tpm = Swtpm {
                child,
                data,
                ctrl,
                _state: dir,
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = tpm.child.try_wait() {
                    break; // exited: most likely a port was taken
                }
                // Probing the control port keeps the single data connection free.
                if TcpStream::connect(ctrl).is_ok() && TcpStream::connect(data).is_ok() {
                    return tpm;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = tpm.child.kill();
            let _ = tpm.child.wait();
            // Keep the state (a restart's NV contents) for the next attempt.
            state = Some(std::mem::replace(
                &mut tpm._state,
                tempfile::tempdir().unwrap(),
            ));
        }
        panic!("swtpm did not start listening (tried 5 times)");
    }

    /// A client on the data channel.
    pub fn connect(&self) -> Tpm<SwtpmTransport> {
        Tpm::new(SwtpmTransport::connect(self.data).unwrap())
    }

    /// Starts swtpm, connects and sends TPM2_Startup(CLEAR): a TPM as after boot.
    pub fn started() -> (Self, Tpm<SwtpmTransport>) {
        let sw = Self::start(true);
        let mut tpm = sw.connect();
        tpm.startup_clear().unwrap();
        (sw, tpm)
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
