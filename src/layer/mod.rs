//! One streaming pass over a layer blob: detect its compression, decompress, verify both
//! digests, walk the tar, record what each entry does to the filesystem, and read into memory
//! only the few files a [`Capture`] asks for. Nothing is written to disk.
//!
//! Whiteouts are recorded here and applied later, in layer order, by [`merge`]; that split is
//! what lets layers be walked in parallel.

pub mod cache;
pub mod gzip;
pub mod merge;
pub mod targuard;

use crate::digest::{Algorithm, Digest, Hasher};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io::{self, Read};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};

pub use merge::{Event, Filesystem, FsNode, SizeTally};

/// Decides which files of a layer are read, and turns their bytes into facts.
pub trait Capture: Sync {
    /// Serializable so a layer's walk can be cached.
    type Fact: Clone + Send + serde::Serialize + serde::de::DeserializeOwned;
    /// The size cap if the file at `path` (normalized, no leading `/`) should be read.
    fn wants(&self, path: &str) -> Option<u64>;
    /// Parses a wanted file. A non-fatal error becomes a warning naming the path.
    fn capture(&self, path: &str, bytes: &[u8]) -> Result<Self::Fact, CaptureError>;
    /// Names what this capture reads and how it parses it, for the layer cache: walks made
    /// by another analyzer (or another version of this one) are never reused. `None`: the
    /// walks are not cached.
    fn analyzer(&self) -> Option<&str> {
        None
    }
    /// What a wanted file of `size` bytes, over its `cap`, means. By default a warning (the
    /// file is not read); a capture makes it fatal where not reading it would hide packages.
    fn too_large(&self, path: &str, size: u64, cap: u64) -> CaptureError {
        let _ = path;
        CaptureError {
            fatal: false,
            message: format!("{size} bytes is over the {cap}-byte cap for this file; not read"),
        }
    }
    /// The most bytes to stream through [`Capture::capture_stream`] if the file at `path` is
    /// one to scan rather than hold: a big file (the ~100 MB `node` binary) whose fact a
    /// scanner with bounded memory finds, or a database read as it streams (apk's). Asked
    /// before [`Capture::wants`]; a streamed file is never buffered whole. A hardlink to it
    /// gets its fact only where [`Capture::wants`] also claims the link's path; a hardlink
    /// whose target comes later in the layer is read whole in the second pass.
    fn streams(&self, _path: &str) -> Option<u64> {
        None
    }
    /// Whether the regular files no other hook claims (neither streamed nor wanted) are
    /// shown to [`Capture::sniff`]: binaries that may sit anywhere (a Go tool under
    /// `node_modules/@esbuild/…/bin/`) are found by their first bytes, not their path.
    fn sniffs(&self) -> bool {
        false
    }
    /// Decides by a file's first [`SNIFF_LEN`] bytes (fewer for a shorter file) whether to
    /// stream it through [`Capture::capture_stream`], and the most bytes to stream (the head
    /// included). The head is read from the tar entry once and handed back in front of the
    /// rest, so the file's bytes are still read exactly once.
    fn sniff(&self, _path: &str, _head: &[u8]) -> Option<u64> {
        None
    }
    /// Scans a streamed file of `size` bytes (as its tar header says; `reader` gives at most
    /// the [`Capture::streams`] or [`Capture::sniff`] cap of them, the cap already applied). The outer error is the layer's own I/O (decompression), which fails the
    /// walk; the inner one is the capture's verdict, as for [`Capture::capture`]; a non-fatal
    /// error with an empty message means "nothing here" (a sniffed file that is not what the
    /// capture looks for): no fact and no warning.
    fn capture_stream(
        &self,
        _path: &str,
        _size: u64,
        _reader: &mut dyn Read,
    ) -> io::Result<Result<Self::Fact, CaptureError>> {
        Ok(Err(CaptureError {
            fatal: false,
            message: "not a file this capture streams".into(),
        }))
    }
}

/// How many leading bytes of a file [`Capture::sniff`] sees (an ELF header is 64).
pub const SNIFF_LEN: usize = 64;

#[derive(Debug, Clone)]
pub struct CaptureError {
    /// Fatal errors stop the scan (the result would be wrong); others are warnings.
    pub fatal: bool,
    pub message: String,
}

/// How a blob was compressed, detected from its first bytes (the media type can lie, and
/// `docker save` writes no media types at all).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    Gzip,
    Zstd,
    None,
}

/// What a tar entry does to the filesystem of the layers below.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub enum Change<F> {
    /// `dir/.wh.name`: removes `dir/name` and everything below it.
    Whiteout(String),
    /// `dir/.wh..wh..opq`: hides everything lower layers put in `dir`.
    Opaque(String),
    Add(Node<F>),
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Node<F> {
    pub path: String,
    pub kind: NodeKind,
    /// The parsed content, for the files the capture asked for.
    pub fact: Option<F>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase", tag = "type")]
pub enum NodeKind {
    File {
        size: u64,
        mode: u32,
    },
    Dir,
    Symlink {
        target: String,
    },
    /// Target is a normalized path inside the image.
    Hardlink {
        target: String,
    },
}

/// The result of walking one layer.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct LayerWalk<F> {
    pub compression: Compression,
    /// Digest and size of the blob as stored (what the manifest names).
    pub blob_digest: Digest,
    pub blob_size: u64,
    /// Digest and size of the uncompressed tar (what the config's `diff_ids` name).
    pub diff_id: Digest,
    pub uncompressed_size: u64,
    pub changes: Vec<Change<F>>,
    pub warnings: Vec<String>,
    /// Hardlinks at wanted paths whose target this pass had not read (pnpm links every
    /// `package.json` to a store file with a hash for a name): (index into `changes`, target).
    /// [`resolve_links`] reads them in a second pass where the blob can be read again.
    /// Never cached: a cached walk has resolved them.
    #[serde(skip)]
    pub unresolved_links: Vec<(usize, String)>,
}

impl<F> LayerWalk<F> {
    /// Gives up on unresolved hardlinks (the blob cannot be read again), with a warning each.
    pub fn abandon_links(&mut self) {
        for (i, target) in std::mem::take(&mut self.unresolved_links) {
            if let Some(Change::Add(n)) = self.changes.get(i) {
                self.warnings.push(format!(
                    "`{}`: hardlink to `{target}`, which could not be read from a one-pass stream",
                    n.path
                ));
            }
        }
    }
}

/// Caps that stop a decompression bomb early. The total is shared by every layer of an image.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Uncompressed bytes one layer may expand to.
    pub max_layer_size: u64,
    /// Uncompressed bytes all layers together may expand to.
    pub max_total_size: u64,
    /// Largest uncompressed ÷ compressed ratio, checked once a layer has expanded past
    /// `ratio_floor` (small layers legitimately compress very well).
    pub max_ratio: u64,
    pub ratio_floor: u64,
    pub total_used: Arc<AtomicU64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_layer_size: 32 << 30,
            max_total_size: 64 << 30,
            max_ratio: 250,
            ratio_floor: 64 << 20,
            total_used: Arc::new(AtomicU64::new(0)),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    #[error("unsupported layer compression (first bytes {0}); expected gzip, zstd or tar")]
    UnsupportedCompression(String),
    #[error("corrupt or truncated {compression:?} stream{}: {source}", at(.path))]
    Corrupt {
        compression: Compression,
        path: Option<String>,
        source: io::Error,
    },
    #[error("entry `{path}`: {reason}")]
    BadPath { path: String, reason: &'static str },
    #[error("decompression bomb: {0}")]
    Bomb(String),
    #[error("`{path}`: {message}")]
    Capture { path: String, message: String },
    #[error("{source}{}", .path.as_ref().map(|p| format!(" (after entry `{p}`)")).unwrap_or_default())]
    Header {
        source: Box<targuard::TarHeaderError>,
        path: Option<String>,
    },
    #[error("reading the blob: {0}")]
    Io(#[source] io::Error),
}

fn at(path: &Option<String>) -> String {
    path.as_ref().map(|p| format!(" at `{p}`")).unwrap_or_default()
}

/// Compressed bytes read ahead per chunk (what the old 256 KB `BufReader` read ahead: the
/// bomb guard's ratio sees the same compressed count).
const RAW_CHUNK: usize = 256 << 10;
/// Decompressed bytes per chunk: the decoder inflates straight into it.
const OUT_CHUNK: usize = 1 << 20;
/// Compressed chunks in flight (being filled, waiting for the hasher, being inflated): the
/// back-pressure of the compressed side.
const CHUNKS_PER_STREAM: usize = 3;
/// Decompressed chunks in flight: one being inflated into, one queued for the walk, one
/// being walked, one with the hasher. A layer's pipeline holds at most 3 × 256 KB + 4 × 1 MB.
const OUT_CHUNKS: usize = 4;
/// Decompressed chunks queued for the walk's thread beyond the one it reads.
const FEED_DEPTH: usize = 1;
/// Below this many bytes (both streams) a layer is hashed on its own thread: many small
/// layers pay no thread start. Past it the rest is hashed on a helper thread. 1 MB: hashing
/// it inline costs ~0.5 ms on the critical path, a thread start ~0.05 ms (4 MB before: the
/// 80 MB / 40-layer bench's walk ÷ inflate went 1.22 → 1.17, the 200 MB one's 1.17 → 1.16).
const INLINE_HASH_BYTES: u64 = 1 << 20;

#[derive(Clone, Copy)]
enum Side {
    Raw,
    Out,
}

type Chunk = Arc<Vec<u8>>;

/// The SHA-256 (or -512) of both streams of a layer. Small layers are hashed inline; once a
/// layer has passed [`INLINE_HASH_BYTES`] the two hashers move to a helper thread, which is
/// sent each filled chunk (a shared buffer, not a copy) and gives the buffer back when done,
/// so hashing overlaps inflating and the tar walk. The digests are the same either way: each
/// stream's chunks are hashed in order, every byte once.
struct Hashing {
    inline: Option<(Hasher, Hasher)>,
    hashed: u64,
    tx: Option<mpsc::SyncSender<(Side, Chunk, usize)>>,
    thread: Option<std::thread::JoinHandle<(Hasher, Hasher)>>,
    back: [mpsc::Sender<Chunk>; 2],
}

impl Hashing {
    fn feed(&mut self, side: Side, chunk: &Chunk, len: usize) -> io::Result<()> {
        self.hashed += len as u64;
        if self.tx.is_none()
            && self.hashed > INLINE_HASH_BYTES
            && let Some((raw, out)) = self.inline.take()
        {
            let (tx, rx) = mpsc::sync_channel::<(Side, Chunk, usize)>(2 * CHUNKS_PER_STREAM);
            let back = self.back.clone();
            let spawned = std::thread::Builder::new().name("layer-hash".into()).spawn(move || {
                let (mut raw, mut out) = (raw, out);
                for (side, chunk, len) in rx {
                    let (hasher, back) = match side {
                        Side::Raw => (&mut raw, &back[0]),
                        Side::Out => (&mut out, &back[1]),
                    };
                    hasher.update(chunk.get(..len).unwrap_or(&chunk[..]));
                    // The reader may be gone (an error ended the walk): nothing to give back to.
                    let _ = back.send(chunk);
                }
                (raw, out)
            });
            match spawned {
                Ok(thread) => {
                    self.tx = Some(tx);
                    self.thread = Some(thread);
                }
                // No thread to be had: the hashers were moved into the closure that failed to
                // start, so this layer cannot be hashed; say so rather than guess.
                Err(e) => return Err(io::Error::other(format!("starting the hashing thread: {e}"))),
            }
        }
        match (&self.tx, &mut self.inline) {
            (Some(tx), _) => tx
                .send((side, chunk.clone(), len))
                .map_err(|_| io::Error::other("the hashing thread stopped")),
            (None, Some((raw, out))) => {
                let bytes = chunk.get(..len).unwrap_or(&chunk[..]);
                match side {
                    Side::Raw => raw.update(bytes),
                    Side::Out => out.update(bytes),
                }
                Ok(())
            }
            (None, None) => Err(io::Error::other("layer hashing already finished")),
        }
    }

    /// The two digests, once every chunk has been fed.
    fn finish(mut self) -> Result<(Digest, Digest), WalkError> {
        if let Some((raw, out)) = self.inline.take() {
            return Ok((raw.finish(), out.finish()));
        }
        drop(self.tx.take());
        let thread = self
            .thread
            .take()
            .ok_or_else(|| WalkError::Io(io::Error::other("layer hashing already finished")))?;
        let (raw, out) = thread
            .join()
            .map_err(|_| WalkError::Io(io::Error::other("the hashing thread failed")))?;
        Ok((raw.finish(), out.finish()))
    }
}

/// The buffers of one stream. A buffer is filled again only once no other stage (the hashing
/// thread, the walk) still holds it: its `Arc` is unique. The stages give their handle back
/// through `bell` when done, which wakes a reader waiting for a buffer (back-pressure); a
/// handle dropped without a ring (a stage that ended) is noticed by the short timeout.
struct Pool {
    bufs: Vec<Chunk>,
    size: usize,
    max: usize,
    bell: mpsc::Receiver<Chunk>,
}

impl Pool {
    fn new(size: usize, max: usize, bell: mpsc::Receiver<Chunk>) -> Self {
        Pool {
            bufs: Vec::with_capacity(max),
            size,
            max,
            bell,
        }
    }

    /// The index of a buffer no other stage holds, allocating up to `max`, else waiting.
    fn free(&mut self) -> io::Result<usize> {
        loop {
            // Handles given back are only a wake-up; dropping them is what frees the buffer.
            while self.bell.try_recv().is_ok() {}
            if let Some(i) = self.bufs.iter_mut().position(|b| Arc::get_mut(b).is_some()) {
                return Ok(i);
            }
            if self.bufs.len() < self.max {
                self.bufs.push(Arc::new(vec![0; self.size]));
                return Ok(self.bufs.len() - 1);
            }
            match self.bell.recv_timeout(std::time::Duration::from_millis(2)) {
                Ok(_) | Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(io::Error::other("the layer's hashing and walk stopped"));
                }
            }
        }
    }
}

/// What the decoding thread sends the walk: a filled chunk of the decompressed stream (a
/// shared buffer and how much of it is filled), or the error that ended the stream.
enum Piece {
    Data(Chunk, usize),
    Fail(io::Error),
}

/// Reads a stream a large chunk at a time into shared buffers, hands each filled chunk to the
/// [`Hashing`] (and, for the decompressed side of a walk, to the walk's thread), and serves it
/// to the next stage (as `BufRead`: the decoder reads the chunk in place). An error after part
/// of a chunk was read is returned once that part was served, so the walk sees every byte
/// before the error, as it did reading directly.
struct ChunkReader<R> {
    inner: R,
    side: Side,
    hashing: Rc<RefCell<Option<Hashing>>>,
    pool: Pool,
    cur: Option<usize>,
    filled: usize,
    pos: usize,
    count: Rc<Cell<u64>>,
    eof: bool,
    pending: Option<io::Error>,
    /// The walk's thread, while it reads: each filled chunk is sent there too.
    forward: Option<mpsc::SyncSender<Piece>>,
    /// The walk's thread stopped reading (it reached the end of the archive, or failed).
    walk_gone: bool,
}

impl<R: Read> ChunkReader<R> {
    fn new(inner: R, side: Side, pool: Pool, hashing: &Rc<RefCell<Option<Hashing>>>, count: &Rc<Cell<u64>>) -> Self {
        ChunkReader {
            inner,
            side,
            hashing: hashing.clone(),
            pool,
            cur: None,
            filled: 0,
            pos: 0,
            count: count.clone(),
            eof: false,
            pending: None,
            forward: None,
            walk_gone: false,
        }
    }

    fn next_chunk(&mut self) -> io::Result<()> {
        if let Some(e) = self.pending.take() {
            self.eof = true;
            return Err(e);
        }
        self.cur = None;
        let i = self.pool.free()?;
        let Some(buf) = self.pool.bufs.get_mut(i).and_then(Arc::get_mut) else {
            return Err(io::Error::other("layer chunk still shared"));
        };
        let mut filled = 0;
        while filled < buf.len() {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => {
                    filled += n;
                    self.count.set(self.count.get() + n as u64);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if filled == 0 => return Err(e),
                Err(e) => {
                    self.pending = Some(e);
                    break;
                }
            }
        }
        let chunk = &self.pool.bufs[i];
        if filled > 0 {
            let mut hashing = self.hashing.borrow_mut();
            let hashing = hashing
                .as_mut()
                .ok_or_else(|| io::Error::other("layer hashing already finished"))?;
            hashing.feed(self.side, chunk, filled)?;
            if let Some(tx) = &self.forward
                && tx.send(Piece::Data(chunk.clone(), filled)).is_err()
            {
                self.forward = None;
                self.walk_gone = true;
            }
        }
        self.cur = Some(i);
        self.filled = filled;
        self.pos = 0;
        Ok(())
    }
}

impl<R: Read> io::BufRead for ChunkReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.filled && (!self.eof || self.pending.is_some()) {
            self.next_chunk()?;
        }
        match self.cur.and_then(|i| self.pool.bufs.get(i)) {
            Some(c) => Ok(c.get(self.pos..self.filled).unwrap_or_default()),
            None => Ok(&[]),
        }
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.filled);
    }
}

impl<R: Read> Read for ChunkReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_buffered(self, buf)
    }
}

/// `Read` for the chunk-serving readers: a copy out of the chunk in hand.
fn read_buffered(r: &mut impl io::BufRead, buf: &mut [u8]) -> io::Result<usize> {
    let available = r.fill_buf()?;
    let n = available.len().min(buf.len());
    buf[..n].copy_from_slice(&available[..n]);
    r.consume(n);
    Ok(n)
}

/// Enforces [`Limits`] on the decompressed stream.
struct BombGuard<'l, R> {
    inner: R,
    raw: Rc<Cell<u64>>,
    count: u64,
    limits: &'l Limits,
    tripped: Rc<RefCell<Option<String>>>,
}

impl<R: Read> Read for BombGuard<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        let total = self.limits.total_used.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        let raw = self.raw.get().max(1);
        let problem = if self.count > self.limits.max_layer_size {
            Some(format!("layer expands past {} bytes", self.limits.max_layer_size))
        } else if total > self.limits.max_total_size {
            Some(format!("image expands past {} bytes", self.limits.max_total_size))
        } else if self.count > self.limits.ratio_floor && self.count / raw > self.limits.max_ratio {
            Some(format!(
                "{} compressed bytes expanded to {} (ratio over {}:1)",
                raw, self.count, self.limits.max_ratio
            ))
        } else {
            None
        };
        if let Some(p) = problem {
            *self.tripped.borrow_mut() = Some(p.clone());
            return Err(io::Error::other(p));
        }
        Ok(n)
    }
}

/// A decompressed view of a blob, with the blob's running hash and the bomb guard's verdict.
pub struct Decoded<'l> {
    pub compression: Compression,
    reader: ChunkReader<BombGuard<'l, Box<dyn Read + 'l>>>,
    raw: Rc<Cell<u64>>,
    out: Rc<Cell<u64>>,
    hashing: Rc<RefCell<Option<Hashing>>>,
    tripped: Rc<RefCell<Option<String>>>,
    /// Rung by the walk's thread when it is done with a decompressed chunk.
    out_bell: mpsc::Sender<Chunk>,
}

impl Read for Decoded<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

impl Decoded<'_> {
    /// Turns a read error into the most telling [`WalkError`]: a tripped bomb guard wins.
    pub fn error(&self, e: io::Error, path: Option<String>) -> WalkError {
        if let Some(p) = self.tripped.borrow().clone() {
            return WalkError::Bomb(p);
        }
        // A header the guard refused: a tar problem, not a compression one.
        if let Some(h) = targuard::TarHeaderError::find(&e) {
            return WalkError::Header {
                source: Box::new(h.clone()),
                path,
            };
        }
        WalkError::Corrupt {
            compression: self.compression,
            path,
            source: e,
        }
    }

    /// Decodes to the end of the stream, or until the walk's thread stops reading. Nothing
    /// is copied: each chunk is hashed and sent to the walk as it is filled.
    fn pump(&mut self) -> io::Result<()> {
        loop {
            let n = io::BufRead::fill_buf(&mut self.reader)?.len();
            if n == 0 || self.reader.walk_gone {
                return Ok(());
            }
            io::BufRead::consume(&mut self.reader, n);
        }
    }

    /// Reads what is left and returns (blob digest, blob size, decoded digest, decoded size).
    pub fn finish(mut self) -> Result<(Digest, u64, Digest, u64), WalkError> {
        self.reader.forward = None;
        self.reader.walk_gone = false;
        self.pump().map_err(|e| self.error(e, None))?;
        let Decoded {
            reader,
            raw,
            out,
            hashing,
            ..
        } = self;
        drop(reader);
        let hashing = hashing
            .borrow_mut()
            .take()
            .ok_or_else(|| WalkError::Io(io::Error::other("layer hashing already finished")))?;
        let (raw_digest, out_digest) = hashing.finish()?;
        Ok((raw_digest, raw.get(), out_digest, out.get()))
    }
}

/// Sniffs the compression of `blob` from its magic bytes and decompresses it, hashing both
/// sides and enforcing `limits`.
pub fn decode<'l, R: Read + 'l>(
    blob: R,
    limits: &'l Limits,
    blob_alg: Algorithm,
    out_alg: Algorithm,
) -> Result<Decoded<'l>, WalkError> {
    let (raw_back_tx, raw_back) = mpsc::channel();
    let (out_back_tx, out_back) = mpsc::channel();
    let out_bell = out_back_tx.clone();
    let hashing = Rc::new(RefCell::new(Some(Hashing {
        inline: Some((Hasher::new(blob_alg), Hasher::new(out_alg))),
        hashed: 0,
        tx: None,
        thread: None,
        back: [raw_back_tx, out_back_tx],
    })));
    let raw_count = Rc::new(Cell::new(0));
    let blob: Box<dyn Read + 'l> = Box::new(blob);
    let raw_pool = Pool::new(RAW_CHUNK, CHUNKS_PER_STREAM, raw_back);
    let mut raw = ChunkReader::new(blob, Side::Raw, raw_pool, &hashing, &raw_count);
    let head = io::BufRead::fill_buf(&mut raw).map_err(WalkError::Io)?;
    let magic = &head[..head.len().min(4)];
    let compression = match magic {
        [0x1f, 0x8b, ..] => Compression::Gzip,
        [0x28, 0xb5, 0x2f, 0xfd] => Compression::Zstd,
        // xz, bzip2: real formats, but no registry or `docker save` produces them for layers.
        [0xfd, b'7', b'z', b'X'] | [b'B', b'Z', b'h', _] => {
            return Err(WalkError::UnsupportedCompression(hex::encode(magic)));
        }
        _ => Compression::None,
    };
    // The decoders read the compressed chunks in place (their `bufread` forms). No gzip
    // CRC-32: the two digests cover every compressed and every decompressed byte (see
    // [`gzip`]).
    let decoded: Box<dyn Read + 'l> = match compression {
        Compression::Gzip => Box::new(gzip::Gunzip::new(raw)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(raw).map_err(WalkError::Io)?),
        Compression::None => Box::new(raw),
    };
    let tripped = Rc::new(RefCell::new(None));
    let guard = BombGuard {
        inner: decoded,
        raw: raw_count.clone(),
        count: 0,
        limits,
        tripped: tripped.clone(),
    };
    let out_count = Rc::new(Cell::new(0));
    let out_pool = Pool::new(OUT_CHUNK, OUT_CHUNKS, out_back);
    let reader = ChunkReader::new(guard, Side::Out, out_pool, &hashing, &out_count);
    Ok(Decoded {
        compression,
        reader,
        raw: raw_count,
        out: out_count,
        hashing,
        tripped,
        out_bell,
    })
}

/// The walk's side of the pipeline: the decompressed stream as the chunks the decoding
/// thread sends, read in place. Each chunk is given back (the pool's bell) once read past, and
/// skipping file data is a seek that moves through chunks without copying them.
struct Feed {
    rx: mpsc::Receiver<Piece>,
    bell: mpsc::Sender<Chunk>,
    cur: Option<(Chunk, usize)>,
    pos: usize,
    /// Bytes consumed so far: the position the tar crate is told after a seek.
    offset: u64,
}

impl Feed {
    fn give_back(&mut self) {
        if let Some((c, _)) = self.cur.take() {
            // The decoding thread may be gone (it failed): nothing to give back to.
            let _ = self.bell.send(c);
        }
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.give_back();
    }
}

impl io::BufRead for Feed {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.cur.as_ref().is_none_or(|(_, len)| self.pos >= *len) {
            self.give_back();
            match self.rx.recv() {
                Ok(Piece::Data(c, len)) => {
                    self.cur = Some((c, len));
                    self.pos = 0;
                }
                Ok(Piece::Fail(e)) => return Err(e),
                // The decoder reached the end of the stream.
                Err(_) => return Ok(&[]),
            }
        }
        Ok(match &self.cur {
            Some((c, len)) => c.get(self.pos..*len).unwrap_or_default(),
            None => &[],
        })
    }

    fn consume(&mut self, amt: usize) {
        let len = self.cur.as_ref().map_or(0, |(_, len)| *len);
        let amt = amt.min(len.saturating_sub(self.pos));
        self.pos += amt;
        self.offset += amt as u64;
    }
}

impl Read for Feed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_buffered(self, buf)
    }
}

/// Forward only (the tar crate skips file data it was not asked to read); past the end is the
/// error the crate gives when it reads instead of seeking.
impl io::Seek for Feed {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        let io::SeekFrom::Current(delta) = to else {
            return Err(io::Error::other("the layer stream only seeks forward"));
        };
        let mut left = u64::try_from(delta).map_err(|_| io::Error::other("the layer stream only seeks forward"))?;
        while left > 0 {
            let available = io::BufRead::fill_buf(self)?.len() as u64;
            if available == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "unexpected EOF during skip",
                ));
            }
            let n = available.min(left);
            io::BufRead::consume(self, n as usize);
            left -= n;
        }
        Ok(self.offset)
    }
}

/// How the walk's thread ended.
enum Walked {
    /// The end of the archive.
    Done,
    /// The archive says something no image may say (a path escaping the root, a fatal capture).
    Refused(WalkError),
    /// Reading failed: the tar structure, or the stream's own error passed on by the decoder.
    Io(io::Error),
}

/// Walks the tar entries of a layer's decompressed stream (on the walk's thread).
fn walk_entries<R: Read + io::Seek, C: Capture>(reader: R, capture: &C) -> (Walker<'_, C>, Walked, Option<String>) {
    let mut walker = Walker {
        capture,
        changes: Vec::new(),
        warnings: Vec::new(),
        captured: HashMap::new(),
        unresolved: Vec::new(),
    };
    let mut archive = tar::Archive::new(targuard::TarGuard::new(reader));
    let mut last: Option<Seen> = None;
    let outcome = (|| {
        for entry in archive.entries_with_seek()? {
            let entry = entry?;
            match walker.entry(entry) {
                Ok(seen) => last = seen,
                Err(EntryError::Walk(w)) => return Ok(Walked::Refused(w)),
                Err(EntryError::Io(e, path)) => {
                    last = Some(Seen::Path(path));
                    return Err(e);
                }
            }
        }
        Ok(Walked::Done)
    })()
    .unwrap_or_else(Walked::Io);
    let last_path = match last {
        Some(Seen::Path(p)) => Some(p),
        Some(Seen::Added(i)) => match walker.changes.get(i) {
            Some(Change::Add(node)) => Some(node.path.clone()),
            _ => None,
        },
        None => None,
    };
    (walker, outcome, last_path)
}

/// The last entry walked, for the message of an error that follows it: its path, or where
/// its node is in the changes (the path is not copied for every entry on the chance of an
/// error).
enum Seen {
    Path(String),
    Added(usize),
}

/// Walks one layer blob. `blob_alg` and `diff_alg` are the algorithms of the digests the
/// caller will verify against (sha256 in practice).
///
/// Three stages overlap: this thread reads and decompresses the blob, a hashing thread (past
/// the first few MB) computes both digests, and the tar walk runs on a thread of its own, fed
/// the decompressed chunks themselves (shared buffers, never copied) with back-pressure from a
/// fixed pool of buffers. The result is used only once both digests are computed over every
/// byte, the tar padding after the end-of-archive marker included.
pub fn walk<R: Read, C: Capture>(
    blob: R,
    capture: &C,
    limits: &Limits,
    blob_alg: Algorithm,
    diff_alg: Algorithm,
) -> Result<LayerWalk<C::Fact>, WalkError> {
    let mut decoded = decode(blob, limits, blob_alg, diff_alg)?;
    let compression = decoded.compression;
    let (tx, rx) = mpsc::sync_channel(FEED_DEPTH);
    decoded.reader.forward = Some(tx);
    let feed = Feed {
        rx,
        bell: decoded.out_bell.clone(),
        cur: None,
        pos: 0,
        offset: 0,
    };
    let (walked, pumped) = std::thread::scope(|s| {
        let walker = std::thread::Builder::new()
            .name("layer-walk".into())
            .spawn_scoped(s, move || {
                let (w, outcome, last_path) = walk_entries(feed, capture);
                ((w.changes, w.warnings, w.unresolved), outcome, last_path)
            });
        let walker = match walker {
            Ok(w) => w,
            Err(e) => return (Err(e), Ok(())),
        };
        let pumped = decoded.pump();
        // Tell the walk where the stream ended: with the decoder's error, or at its end.
        if let Some(tx) = decoded.reader.forward.take()
            && let Err(e) = &pumped
        {
            let _ = tx.send(Piece::Fail(io::Error::new(e.kind(), e.to_string())));
        }
        let walked = walker
            .join()
            .map_err(|_| io::Error::other("the layer walk's thread failed"));
        (walked, pumped)
    });
    let ((changes, warnings, unresolved), outcome, last_path) =
        walked.map_err(|e| WalkError::Io(io::Error::other(format!("walking the layer: {e}"))))?;
    match (outcome, pumped) {
        (Walked::Refused(w), _) => return Err(w),
        // The stream failed under the walk: the decoder's own error is the telling one (a
        // tripped bomb guard, a corrupt deflate block), unless the tar guard refused first.
        (Walked::Io(e), Err(decode_error)) if targuard::TarHeaderError::find(&e).is_none() => {
            return Err(decoded.error(decode_error, last_path));
        }
        (Walked::Io(e), _) => return Err(decoded.error(e, last_path)),
        (Walked::Done, Err(e)) => return Err(decoded.error(e, None)),
        (Walked::Done, Ok(())) => {}
    }
    // The digests cover every byte, including tar padding after the end-of-archive marker.
    let (blob_digest, blob_size, diff_id, uncompressed_size) = decoded.finish()?;
    Ok(LayerWalk {
        compression,
        blob_digest,
        blob_size,
        diff_id,
        uncompressed_size,
        changes,
        warnings,
        unresolved_links: unresolved,
    })
}

/// Second pass over a blob already walked (and verified) by [`walk`]: reads the targets of
/// its unresolved hardlinks and captures them under the links' paths. Only layers with such
/// links pay for it.
pub fn resolve_links<R: Read, C: Capture>(
    blob: R,
    capture: &C,
    limits: &Limits,
    walk: &mut LayerWalk<C::Fact>,
) -> Result<(), WalkError> {
    if walk.unresolved_links.is_empty() {
        return Ok(());
    }
    let mut wanted: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, target) in std::mem::take(&mut walk.unresolved_links) {
        wanted.entry(target).or_default().push(i);
    }
    // The first pass already counted these bytes against the image total.
    let limits = Limits {
        total_used: Default::default(),
        ..limits.clone()
    };
    let decoded = decode(blob, &limits, Algorithm::Sha256, Algorithm::Sha256)?;
    let mut archive = tar::Archive::new(targuard::TarGuard::new(decoded));
    let entries = archive.entries().map_err(WalkError::Io)?;
    for entry in entries {
        if wanted.is_empty() {
            break;
        }
        let mut entry = entry.map_err(WalkError::Io)?;
        let regular = matches!(
            entry.header().entry_type(),
            tar::EntryType::Regular | tar::EntryType::Continuous
        );
        let Ok(Some(path)) = normalize(&entry.path_bytes()) else {
            continue;
        };
        if !regular {
            continue;
        }
        let Some(links) = wanted.remove(&path) else { continue };
        let mut bytes = Vec::new();
        (&mut entry)
            .take(MAX_LINKED_READ + 1)
            .read_to_end(&mut bytes)
            .map_err(WalkError::Io)?;
        for i in links {
            let Some(Change::Add(node)) = walk.changes.get_mut(i) else {
                continue;
            };
            let cap = capture.wants(&node.path).unwrap_or(0);
            if bytes.len() as u64 > cap {
                let e = capture.too_large(&node.path, bytes.len() as u64, cap);
                if e.fatal {
                    return Err(WalkError::Capture {
                        path: node.path.clone(),
                        message: e.message,
                    });
                }
                walk.warnings.push(format!("`{}`: {}", node.path, e.message));
                continue;
            }
            match capture.capture(&node.path, &bytes) {
                Ok(f) => node.fact = Some(f),
                Err(e) if e.fatal => {
                    return Err(WalkError::Capture {
                        path: node.path.clone(),
                        message: e.message,
                    });
                }
                Err(e) => walk.warnings.push(format!("`{}`: {}", node.path, e.message)),
            }
        }
    }
    for (target, links) in wanted {
        for i in links {
            if let Some(Change::Add(n)) = walk.changes.get(i) {
                walk.warnings.push(format!(
                    "`{}`: hardlink to `{target}`, which is not in this layer",
                    n.path
                ));
            }
        }
    }
    Ok(())
}

/// The most a hardlink target is read in the second pass; the link's own cap then applies.
const MAX_LINKED_READ: u64 = 64 << 20;

enum EntryError {
    Walk(WalkError),
    Io(io::Error, String),
}

struct Walker<'c, C: Capture> {
    capture: &'c C,
    changes: Vec<Change<C::Fact>>,
    warnings: Vec<String>,
    /// Index into `changes` of each captured file, so a hardlink to it gets the same fact.
    captured: HashMap<String, usize>,
    unresolved: Vec<(usize, String)>,
}

impl<C: Capture> Walker<'_, C> {
    /// Records one tar entry; says where it is for error messages.
    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<Option<Seen>, EntryError> {
        let (path, lossy) = {
            let raw_path = entry.path_bytes();
            let path = match normalize(&raw_path) {
                Ok(Some(p)) => p,
                Ok(None) => return Ok(None), // the root directory itself
                Err(reason) => {
                    return Err(EntryError::Walk(WalkError::BadPath {
                        path: String::from_utf8_lossy(&raw_path).into_owned(),
                        reason,
                    }));
                }
            };
            (path, !raw_path.is_ascii() && std::str::from_utf8(&raw_path).is_err())
        };
        if lossy {
            self.warnings.push(format!(
                "`{path}`: file name is not valid UTF-8; shown with replacement characters"
            ));
        }

        // Whiteouts are markers, not files.
        let (parent, base) = match path.rsplit_once('/') {
            Some((p, b)) => (p, b),
            None => ("", path.as_str()),
        };
        if let Some(hidden) = base.strip_prefix(".wh.") {
            if hidden == ".wh..opq" {
                self.changes.push(Change::Opaque(parent.to_string()));
            } else if !hidden.starts_with(".wh.") && !hidden.is_empty() {
                let target = if parent.is_empty() {
                    hidden.to_string()
                } else {
                    format!("{parent}/{hidden}")
                };
                self.changes.push(Change::Whiteout(target));
            }
            // Other `.wh..wh.*` names are aufs bookkeeping with no meaning in an image.
            return Ok(Some(Seen::Path(path)));
        }

        let header = entry.header();
        let kind = match header.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => NodeKind::File {
                size: entry.size(),
                // The crate's `mode()` with the guard's parse of the field (the same answers,
                // tested; the crate's goes through `from_utf8` and `trim` for every entry).
                mode: targuard::octal(&header.as_old().mode).map_or(0o644, |m| m as u32),
            },
            tar::EntryType::Directory => NodeKind::Dir,
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .unwrap_or_default();
                NodeKind::Symlink { target }
            }
            tar::EntryType::Link => {
                let raw_target = entry.link_name_bytes().map(|t| t.into_owned()).unwrap_or_default();
                match normalize(&raw_target) {
                    Ok(Some(target)) => NodeKind::Hardlink { target },
                    Ok(None) | Err(_) => {
                        return Err(EntryError::Walk(WalkError::BadPath {
                            path: format!("{path} -> {}", String::from_utf8_lossy(&raw_target)),
                            reason: "hardlink target escapes the image root",
                        }));
                    }
                }
            }
            // Devices and FIFOs carry no content a gate looks at.
            _ => return Ok(Some(Seen::Path(path))),
        };

        let streamed = match &kind {
            NodeKind::File { .. } => self.capture.streams(&path),
            _ => None,
        };
        let wanted = match &kind {
            NodeKind::File { .. } if streamed.is_none() => self.capture.wants(&path),
            _ => None,
        };
        // The first bytes of a file no path-based hook claims, when the capture sniffs.
        let mut head = [0u8; SNIFF_LEN];
        let mut head_len = 0;
        let sniffed = match &kind {
            NodeKind::File { size, .. }
                if streamed.is_none() && wanted.is_none() && *size > 0 && self.capture.sniffs() =>
            {
                let want = (*size).min(SNIFF_LEN as u64) as usize;
                while head_len < want {
                    match entry.read(&mut head[head_len..want]) {
                        Ok(0) => break,
                        Ok(n) => head_len += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(EntryError::Io(e, path.clone())),
                    }
                }
                self.capture.sniff(&path, &head[..head_len])
            }
            _ => None,
        };
        let fact = match &kind {
            NodeKind::File { size, .. } if streamed.is_some() || sniffed.is_some() => {
                let cap = streamed.or(sniffed).unwrap_or(0);
                let rest = cap.saturating_sub(head_len as u64);
                let mut reader = (&head[..head_len]).chain((&mut entry).take(rest));
                let verdict = self
                    .capture
                    .capture_stream(&path, *size, &mut reader)
                    .map_err(|e| EntryError::Io(e, path.clone()))?;
                match verdict {
                    Ok(f) => Some(f),
                    Err(e) if e.fatal => {
                        return Err(EntryError::Walk(WalkError::Capture {
                            path,
                            message: e.message,
                        }));
                    }
                    // A sniffed file that turned out to hold nothing: no fact, no warning.
                    Err(e) if e.message.is_empty() => None,
                    Err(e) => {
                        self.warnings.push(format!("`{path}`: {}", e.message));
                        None
                    }
                }
            }
            NodeKind::File { size, .. } => match wanted {
                Some(cap) if *size > cap => {
                    let e = self.capture.too_large(&path, *size, cap);
                    if e.fatal {
                        return Err(EntryError::Walk(WalkError::Capture {
                            path,
                            message: e.message,
                        }));
                    }
                    self.warnings.push(format!("`{path}`: {}", e.message));
                    None
                }
                Some(cap) => {
                    let mut bytes = Vec::with_capacity(*size as usize);
                    (&mut entry)
                        .take(cap + 1)
                        .read_to_end(&mut bytes)
                        .map_err(|e| EntryError::Io(e, path.clone()))?;
                    match self.capture.capture(&path, &bytes) {
                        Ok(f) => Some(f),
                        Err(e) if e.fatal => {
                            return Err(EntryError::Walk(WalkError::Capture {
                                path,
                                message: e.message,
                            }));
                        }
                        Err(e) => {
                            self.warnings.push(format!("`{path}`: {}", e.message));
                            None
                        }
                    }
                }
                None => None,
            },
            NodeKind::Hardlink { target } if self.capture.wants(&path).is_some() => {
                let linked = self.captured.get(target).and_then(|&i| match &self.changes[i] {
                    Change::Add(n) => n.fact.clone(),
                    _ => None,
                });
                if linked.is_none() {
                    self.unresolved.push((self.changes.len(), target.clone()));
                }
                linked
            }
            _ => None,
        };
        if fact.is_some() {
            self.captured.insert(path.clone(), self.changes.len());
        }
        let at = self.changes.len();
        self.changes.push(Change::Add(Node { path, kind, fact }));
        Ok(Some(Seen::Added(at)))
    }
}

/// Normalizes a tar entry name to `a/b/c`. `./` and empty components are dropped; absolute
/// names and `..` are refused, since a layer that names them is either broken or hostile.
pub fn normalize(raw: &[u8]) -> Result<Option<String>, &'static str> {
    if raw.first() == Some(&b'/') {
        return Err("absolute path in a layer");
    }
    // Most names are already normal (`usr/lib/x`, `etc/` for a directory): checked as they
    // are and copied once, not rebuilt a component at a time.
    let body = raw.strip_suffix(b"/").unwrap_or(raw);
    if !body.is_empty()
        && !body.contains(&0)
        && body
            .split(|&b| b == b'/')
            .all(|c| !c.is_empty() && c != b"." && c != b"..")
        && let Ok(text) = std::str::from_utf8(body)
    {
        return Ok(Some(text.to_owned()));
    }
    let text = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(text.len());
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("path climbs out of the image root with `..`"),
            p => {
                if p.contains('\0') {
                    return Err("NUL byte in a path");
                }
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str(p);
            }
        }
    }
    Ok(if out.is_empty() { None } else { Some(out) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Bytes that compress somewhat, like real files: `n` of them, deterministic.
    fn content(n: usize) -> Vec<u8> {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        (0..n)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if i % 3 == 0 { b'a' + (x % 26) as u8 } else { b' ' }
            })
            .collect()
    }

    fn decode_all(blob: &[u8]) -> Result<(Digest, u64, Digest, u64), WalkError> {
        let limits = Limits::default();
        let mut d = decode(blob, &limits, Algorithm::Sha256, Algorithm::Sha256)?;
        let mut sink = Vec::new();
        if let Err(e) = d.read_to_end(&mut sink) {
            return Err(d.error(e, None));
        }
        d.finish()
    }

    #[test]
    fn both_digests_are_exact_inline_and_on_the_hashing_thread_for_gzip_zstd_and_tar() {
        // 100 KB stays inline; 6 MB passes INLINE_HASH_BYTES and is hashed on the helper thread.
        for n in [100 << 10, 6 << 20] {
            let plain = content(n);
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&plain).unwrap();
            let gz = gz.finish().unwrap();
            let zst = zstd::encode_all(&plain[..], 1).unwrap();
            for blob in [&gz, &zst, &plain] {
                let (blob_digest, blob_size, diff_id, size) = decode_all(blob).unwrap();
                assert_eq!(blob_digest, Digest::of(Algorithm::Sha256, blob), "{n}");
                assert_eq!(blob_size, blob.len() as u64);
                assert_eq!(diff_id, Digest::of(Algorithm::Sha256, &plain), "{n}");
                assert_eq!(size, plain.len() as u64);
            }
            // Cut short, or one byte flipped mid-stream: an error, never a digest.
            assert!(decode_all(&gz[..gz.len() / 2]).is_err(), "{n}: truncated gzip");
            let mut flipped = gz.clone();
            let mid = flipped.len() / 2;
            flipped[mid] ^= 0xff;
            assert!(decode_all(&flipped).is_err(), "{n}: corrupt gzip");
            assert!(decode_all(&zst[..zst.len() / 2]).is_err(), "{n}: truncated zstd");
        }
    }

    /// Reads every `*.json` file (its length is the fact), nothing else.
    struct Lengths;

    impl Capture for Lengths {
        type Fact = usize;
        fn wants(&self, path: &str) -> Option<u64> {
            path.ends_with(".json").then_some(1 << 20)
        }
        fn capture(&self, path: &str, bytes: &[u8]) -> Result<usize, CaptureError> {
            if path.ends_with("fatal.json") {
                return Err(CaptureError {
                    fatal: true,
                    message: "refused".into(),
                });
            }
            Ok(bytes.len())
        }
    }

    /// A tar of `files` entries `d/N.bin` of `size` bytes, every tenth one `d/N.json`.
    fn tar_of(files: usize, size: usize, first: Option<&str>) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let body = content(size);
        let mut add = |name: &str, data: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            // Written raw: `set_path` would refuse the hostile names these tests need.
            h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            b.append(&h, data).unwrap();
        };
        if let Some(name) = first {
            add(name, b"x");
        }
        for i in 0..files {
            let ext = if i % 10 == 0 { "json" } else { "bin" };
            add(&format!("d/{i}.{ext}"), &body[..(size - i % 7).max(1)]);
        }
        b.into_inner().unwrap()
    }

    fn gzip(plain: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(plain).unwrap();
        gz.finish().unwrap()
    }

    fn walk_of(blob: &[u8], limits: &Limits) -> Result<LayerWalk<usize>, WalkError> {
        walk(blob, &Lengths, limits, Algorithm::Sha256, Algorithm::Sha256)
    }

    #[test]
    fn the_pipelined_walk_sees_every_entry_of_a_layer_many_chunks_long() {
        // 3,000 files of ~9 KB: 28 MB of tar, far more than the pool's 4 MB of chunks, so
        // every buffer is reused many times while the walk and the hasher hold others.
        let plain = tar_of(3000, 9000, None);
        for blob in [gzip(&plain), zstd::encode_all(&plain[..], 1).unwrap(), plain.clone()] {
            let w = walk_of(&blob, &Limits::default()).unwrap();
            assert_eq!(w.blob_digest, Digest::of(Algorithm::Sha256, &blob));
            assert_eq!(w.diff_id, Digest::of(Algorithm::Sha256, &plain));
            assert_eq!(w.uncompressed_size, plain.len() as u64);
            let nodes: Vec<&Node<usize>> = w
                .changes
                .iter()
                .filter_map(|c| match c {
                    Change::Add(n) => Some(n),
                    _ => None,
                })
                .collect();
            assert_eq!(nodes.len(), 3000);
            // Every wanted file was read whole, the others skipped.
            for (i, n) in nodes.iter().enumerate() {
                let want = (i % 10 == 0).then_some((9000 - i % 7).max(1));
                assert_eq!(n.fact, want, "{}", n.path);
            }
        }
    }

    #[test]
    fn a_layer_refused_at_its_first_entry_stops_without_reading_the_rest() {
        let plain = tar_of(2000, 9000, Some("../escape"));
        match walk_of(&gzip(&plain), &Limits::default()) {
            Err(WalkError::BadPath { path, .. }) => assert_eq!(path, "../escape"),
            other => panic!("{:?}", other.map(|w| w.changes.len())),
        }
        // A fatal capture deep inside a long layer ends the walk with its path.
        let mut plain = tar_of(1500, 9000, None);
        plain.truncate(plain.len() - 1024);
        let mut tail = tar_of(0, 1, Some("z/fatal.json"));
        plain.append(&mut tail);
        plain.extend(tar_of(1000, 9000, None));
        match walk_of(&gzip(&plain), &Limits::default()) {
            Err(WalkError::Capture { path, .. }) => assert_eq!(path, "z/fatal.json"),
            other => panic!("{:?}", other.map(|w| w.changes.len())),
        }
    }

    #[test]
    fn a_layer_cut_short_or_a_bomb_is_an_error_from_the_decoder_not_a_result() {
        let plain = tar_of(2000, 9000, None);
        let gz = gzip(&plain);
        match walk_of(&gz[..gz.len() / 2], &Limits::default()) {
            Err(WalkError::Corrupt { compression, path, .. }) => {
                assert_eq!(compression, Compression::Gzip);
                assert!(path.is_some_and(|p| p.starts_with("d/")), "names the last entry read");
            }
            other => panic!("{:?}", other.map(|w| w.changes.len())),
        }
        let limits = Limits {
            max_layer_size: 5 << 20,
            ..Limits::default()
        };
        match walk_of(&gz, &limits) {
            Err(WalkError::Bomb(why)) => assert!(why.contains("layer expands past"), "{why}"),
            other => panic!("{:?}", other.map(|w| w.changes.len())),
        }
        // Garbage after the archive's end: both digests cover it, so the blob is corrupt.
        let mut trailing = gz.clone();
        trailing.extend_from_slice(b"not gzip at all");
        assert!(walk_of(&trailing, &Limits::default()).is_err());
    }

    #[test]
    fn normalize_strips_dot_prefix_and_trailing_slash() {
        assert_eq!(normalize(b"./etc/passwd").unwrap().as_deref(), Some("etc/passwd"));
        assert_eq!(normalize(b"usr/lib//x/").unwrap().as_deref(), Some("usr/lib/x"));
        assert_eq!(normalize(b"./").unwrap(), None);
    }

    #[test]
    fn normalize_gives_what_the_component_rules_give_on_every_short_name() {
        // Every name of up to four bytes over an alphabet of the characters that matter:
        // the fast path for names already normal must agree with the component rules.
        let alphabet = [b'a', b'/', b'.', 0u8, 0xff];
        let reference = |raw: &[u8]| -> Result<Option<String>, &'static str> {
            if raw.first() == Some(&b'/') {
                return Err("absolute path in a layer");
            }
            let text = String::from_utf8_lossy(raw);
            let mut parts = Vec::new();
            for part in text.split('/') {
                match part {
                    "" | "." => {}
                    ".." => return Err("path climbs out of the image root with `..`"),
                    p if p.contains('\0') => return Err("NUL byte in a path"),
                    p => parts.push(p),
                }
            }
            Ok((!parts.is_empty()).then(|| parts.join("/")))
        };
        let mut names: Vec<Vec<u8>> = vec![Vec::new()];
        for _ in 0..4 {
            let longer: Vec<Vec<u8>> = names
                .iter()
                .filter(|n| n.len() == names.last().map_or(0, Vec::len))
                .flat_map(|n| alphabet.iter().map(move |&c| [n.as_slice(), &[c]].concat()))
                .collect();
            names.extend(longer);
        }
        assert!(names.len() > 700);
        for name in &names {
            assert_eq!(normalize(name), reference(name), "{name:?}");
        }
    }

    #[test]
    fn normalize_refuses_escapes() {
        assert!(normalize(b"/etc/passwd").is_err());
        assert!(normalize(b"../../etc/shadow").is_err());
        assert!(normalize(b"a/../../b").is_err());
    }
}
