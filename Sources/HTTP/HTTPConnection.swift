import CLinuxIO
import Glibc

/// One client connection: reads requests, hands them to the responder one at a time, and
/// writes the responses in order. Lives on its event loop's thread only.
final class HTTPConnection: EventLoopSource, @unchecked Sendable {
    // @unchecked: every member is touched on `loop`'s thread only; other threads reach the
    // connection exclusively through `loop.execute`.

    private enum BodyMode {
        case none
        case collect([UInt8], max: Int)
        case stream(any HTTPBodySink, max: UInt64)
        /// The response went out early; the rest of the body is read and dropped.
        case discard
    }

    /// TLS on this connection (nil for plain HTTP): waiting for the client's first byte, in
    /// the handshake, or established.
    private enum Security {
        case awaitingHello(TLSContext)
        case handshaking(TLSSession)
        case established(TLSSession)

        var isEstablished: Bool {
            if case .established = self { return true }
            return false
        }
    }

    /// What one read or write did.
    private enum IOResult {
        case bytes(Int)
        case closed
        case wouldBlock
        case interrupted
        case failed
    }

    private enum Phase {
        /// Between requests (no byte of the next one consumed yet).
        case idle
        /// Reading a head or a body.
        case reading
        /// The responder has the request.
        case responding
    }

    let fd: Int32
    let loop: EventLoop
    private let server: HTTPServerContext
    private let config: HTTPServerConfiguration
    private var buffer: UnsafeMutableRawBufferPointer
    private var start = 0, end = 0
    private var parser: HTTPRequestParser

    private var phase = Phase.idle
    private var head: HTTPRequestHead?
    private var bodyMode = BodyMode.none
    private var bodyReceived: UInt64 = 0
    private var requestComplete = false
    /// Set once a response for the current request is queued.
    private var responded = false
    private var keepAlive = true

    private var out: [UInt8] = []
    private var outOffset = 0
    private var file: (region: HTTPFileRegion, offset: Int, remaining: Int)?
    private var closeAfterWrite = false
    private var security: Security?
    /// Under TLS a file cannot go out by sendfile: it is read into this buffer and encrypted.
    /// Holds the bytes from the file's current offset not yet accepted by the session.
    private var fileChunk: UnsafeMutableRawBufferPointer?
    private var fileChunkStart = 0, fileChunkEnd = 0
    private static let fileChunkBytes = 256 * 1024

    private var readable = true, writable = true, peerClosed = false, closed = false
    /// The body sink is full: the socket is not read until it calls back.
    private var pausedForSink = false
    /// After an early final response on a request whose body is still arriving: our side is
    /// shut down and the rest is read and dropped until this deadline, so the client sees the
    /// response instead of a reset (RFC 9112 §9.6).
    private var lingerUntil: Double?
    private var lingeredBytes = 0
    private static let lingerSeconds = 2.0
    private static let lingerMaxBytes = 8 << 20
    private var driving = false

    private var phaseStart: Double
    private var requestStart: Double?
    private var windowStart = 0.0, windowBytes = 0
    private var lastWriteProgress = 0.0

    init(fd: Int32, loop: EventLoop, server: HTTPServerContext) {
        self.fd = fd
        self.loop = loop
        self.server = server
        self.config = server.config
        self.parser = HTTPRequestParser(limits: server.config.parserLimits)
        buffer = .allocate(byteCount: max(server.config.readBufferBytes, server.config.parserLimits.maxHeaderBytes + 4096), alignment: 16)
        security = server.tls.map { .awaitingHello($0) }
        phaseStart = EventLoop.now()
        lastWriteProgress = phaseStart
    }

    deinit {
        buffer.deallocate()
        fileChunk?.deallocate()
    }

    // MARK: Events

    func ready(readable r: Bool, writable w: Bool, hangup: Bool) {
        if r { readable = true }
        if w { writable = true }
        drive()
    }

    func tick(now: Double) {
        guard !closed else { return }
        if let security, !security.isEstablished {
            if now - phaseStart > config.tlsHandshakeTimeout { close() }
            return
        }
        if let until = lingerUntil {
            if now > until { close() }
            return
        }
        if hasPendingOutput {
            if now - lastWriteProgress > config.writeStallTimeout { close() }
            return
        }
        switch phase {
        case .idle:
            if let t = requestStart, now - t > config.headerReadTimeout {
                fail(408, "the request head did not arrive within \(Int(config.headerReadTimeout)) s")
            } else if requestStart == nil, now - phaseStart > config.idleTimeout || server.isDraining {
                close()
            }
        case .reading:
            if head == nil, let t = requestStart, now - t > config.headerReadTimeout {
                fail(408, "the request head did not arrive within \(Int(config.headerReadTimeout)) s")
            } else if head != nil, !pausedForSink, now - windowStart >= config.uploadRateWindow {
                let rate = Double(windowBytes) / (now - windowStart)
                if rate < Double(config.minUploadBytesPerSecond) {
                    fail(408, "the upload slowed to \(Int(rate)) B/s, below the minimum of \(config.minUploadBytesPerSecond) B/s")
                }
                windowStart = now
                windowBytes = 0
            }
        case .responding:
            break
        }
    }

    /// Makes progress until the socket would block or a responder has the request.
    private func drive() {
        guard !driving else { return }
        driving = true
        defer { driving = false }
        while !closed {
            if security != nil, !secure() { return }
            if lingerUntil != nil {
                drainLinger()
                return
            }
            if hasPendingOutput {
                guard flush() else { return }
                writeFinished()
                continue
            }
            if phase == .responding { return }
            let step: HTTPRequestParser.Step
            do {
                step = try parser.parse(UnsafeRawBufferPointer(rebasing: buffer[start..<end]))
            } catch {
                if responded { close() } else { fail(error.status, error.reason) }
                // The error response was only queued (we are inside drive); loop to flush it.
                continue
            }
            let base = start
            start += step.consumed
            if let event = step.event {
                handle(event, base: base)
                continue
            }
            // Only empty lines between requests were consumed (RFC 9112 §2.2): still idle, so
            // no header-read deadline runs against a kept-alive connection.
            if head == nil, start == end, parser.isIdle, phase == .reading {
                phase = .idle
                requestStart = nil
                phaseStart = EventLoop.now()
            }
            // The parser took a framing line (a chunk size, a chunk's CRLF) and may have more
            // to parse in what was already read: only a step that consumed nothing needs a read.
            if step.consumed > 0 { continue }
            if case .stream(let sink, _) = bodyMode, !sink.whenReady({ [self] in loop.execute { self.resumeFromSink() } }) {
                pausedForSink = true
                return
            }
            if !fill() { return }
        }
    }

    /// Takes TLS as far as an established session; false while that waits for the socket (or
    /// when the connection ended).
    private func secure() -> Bool {
        switch security {
        case nil, .established?:
            return true
        case .awaitingHello(let context)?:
            var first: UInt8 = 0
            let n = recv(fd, &first, 1, Int32(MSG_PEEK))
            if n == 0 { close(); return false }
            if n < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK { readable = false } else if errno != EINTR { close() }
                return false
            }
            // Every TLS connection opens with a handshake record (type 22); anything else is
            // most likely plain HTTP sent to the HTTPS port, which deserves an answer it can read.
            guard first == 0x16 else {
                refusePlainHTTP()
                return false
            }
            guard let session = TLSSession(context: context, fd: fd) else { close(); return false }
            security = .handshaking(session)
            return secure()
        case .handshaking(let session)?:
            switch session.handshake() {
            case .bytes:
                security = .established(session)
                phaseStart = EventLoop.now()
                return true
            case .wantRead:
                readable = false
            case .wantWrite:
                writable = false
            case .closed, .failed:
                close()
            }
            return false
        }
    }

    /// A plain-HTTP request on the TLS port: a plain 400 that says to use https, then close.
    private func refusePlainHTTP() {
        // What the client sent is drained first, so the close does not reset the connection
        // before the answer is read.
        while read(fd, buffer.baseAddress!, buffer.count) > 0 {}
        let response = server.responder.errorResponse(status: 400, detail: "this port speaks HTTPS; the request was plain HTTP: use an https:// URL")
        var bytes: [UInt8] = []
        let body: [UInt8] = if case .bytes(let b) = response.body { b } else { [] }
        HTTPResponseEncoder.encodeHead(response, bodyLength: UInt64(body.count), close: true, http10KeepAlive: false, into: &bytes)
        bytes += body
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        Glibc.shutdown(fd, Int32(SHUT_WR))
        close()
    }

    /// Reads from the socket, through TLS when it is on.
    private func receive(_ pointer: UnsafeMutableRawPointer, _ count: Int) -> IOResult {
        if case .established(let session) = security {
            switch session.read(into: pointer, count: count) {
            case .bytes(let n): return .bytes(n)
            case .closed: return .closed
            case .wantRead: readable = false; return .wouldBlock
            case .wantWrite: writable = false; return .wouldBlock
            case .failed: return .failed
            }
        }
        let n = read(fd, pointer, count)
        if n > 0 { return .bytes(n) }
        if n == 0 { return .closed }
        switch errno {
        case EAGAIN, EWOULDBLOCK: readable = false; return .wouldBlock
        case EINTR: return .interrupted
        default: return .failed
        }
    }

    /// Writes to the socket, through TLS when it is on.
    private func transmit(_ pointer: UnsafeRawPointer, _ count: Int) -> IOResult {
        if case .established(let session) = security {
            switch session.write(pointer, count: count) {
            case .bytes(let n): return .bytes(n)
            case .wantWrite: writable = false; return .wouldBlock
            case .wantRead: readable = false; return .wouldBlock
            case .closed, .failed: return .failed
            }
        }
        let n = send(fd, pointer, count, Int32(MSG_NOSIGNAL))
        if n > 0 { return .bytes(n) }
        if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { writable = false; return .wouldBlock }
        if n < 0 && errno == EINTR { return .interrupted }
        return .failed
    }

    /// What a write took: its byte count (0 after an interruption: try again), or nil to stop
    /// writing, the socket being full or the connection closed on an error.
    private func accepted(_ result: IOResult) -> Int? {
        switch result {
        case .bytes(let n):
            lastWriteProgress = EventLoop.now()
            return n
        case .interrupted:
            return 0
        case .wouldBlock:
            return nil
        case .closed, .failed:
            close()
            return nil
        }
    }

    private func resumeFromSink() {
        guard pausedForSink else { return }
        pausedForSink = false
        // The pause was the server's, not the client's: start a fresh rate window.
        windowStart = EventLoop.now()
        windowBytes = 0
        drive()
    }

    /// Reads more bytes; false when the socket has none now (or the connection ended).
    private func fill() -> Bool {
        guard readable, !peerClosed else {
            if peerClosed { peerGone() }
            return false
        }
        if start == end {
            start = 0
            end = 0
        } else if end == buffer.count {
            buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: end - start)
            end -= start
            start = 0
        }
        switch receive(buffer.baseAddress! + end, buffer.count - end) {
        case .bytes(let n):
            if phase == .idle {
                phase = .reading
                requestStart = EventLoop.now()
            }
            end += n
            return true
        case .closed:
            peerClosed = true
            peerGone()
            return false
        case .wouldBlock:
            return false
        case .interrupted:
            return true
        case .failed:
            close()
            return false
        }
    }

    /// The client closed its side: finish what can still be answered, else close.
    private func peerGone() {
        if phase == .responding || hasPendingOutput { closeAfterWrite = true; return }
        close()
    }

    private func handle(_ event: HTTPRequestParser.Event, base: Int) {
        switch event {
        case .head(let h):
            beginRequest(h)
        case .body(let range):
            let bytes = UnsafeRawBufferPointer(rebasing: buffer[(base + range.lowerBound)..<(base + range.upperBound)])
            receiveBody(bytes)
        case .end:
            requestComplete = true
            endOfBody()
        }
    }

    private func beginRequest(_ h: HTTPRequestHead) {
        phase = .reading
        head = h
        server.connections.setWaiting(self, since: nil)
        keepAlive = h.keepAlive && !server.isDraining
        bodyReceived = 0
        windowStart = EventLoop.now()
        windowBytes = 0
        server.requestStarted()
        let decision = server.responder.bodyDecision(for: h)
        let declared: UInt64? = if case .contentLength(let n) = h.framing { n } else { nil }
        switch decision {
        case .reject(let response):
            bodyMode = .discard
            respondEarly(response)
            return
        case .collect(let max):
            if let n = declared, n > UInt64(max) { return respondTooLarge(max: UInt64(max)) }
            bodyMode = .collect([], max: max)
        case .stream(let sink, let max):
            if let n = declared, n > max {
                sink.abort()
                return respondTooLarge(max: max)
            }
            bodyMode = .stream(sink, max: max)
        }
        // RFC 9110 §10.1.1: no 100 (Continue) for an HTTP/1.0 client.
        if h.expectsContinue && h.hasBody && h.version == .http11 {
            out.append(contentsOf: HTTPResponseEncoder.continueLine)
            lastWriteProgress = EventLoop.now()
        }
    }

    private func respondTooLarge(max: UInt64) {
        bodyMode = .discard
        respondEarly(server.responder.errorResponse(status: 413, detail: "the request body exceeds the limit of \(max) bytes"))
    }

    /// Answers before the body is read: keep the connection only if the rest of the body can
    /// be drained cheaply and the client is not waiting for 100-continue.
    private func respondEarly(_ response: HTTPResponse) {
        guard let h = head else { return }
        var response = response
        if h.hasBody {
            let drainable: Bool = if case .contentLength(let n) = h.framing { n <= config.maxDrainBytes } else { false }
            if h.expectsContinue || !drainable { response.closeConnection = true }
        }
        queue(response)
    }

    private func receiveBody(_ bytes: UnsafeRawBufferPointer) {
        bodyReceived += UInt64(bytes.count)
        windowBytes += bytes.count
        server.bytesReceived(bytes.count)
        switch bodyMode {
        case .none, .discard:
            break
        case .collect(var collected, let max):
            if bodyReceived > UInt64(max) { return respondTooLarge(max: UInt64(max)) }
            bodyMode = .none
            collected.append(contentsOf: bytes)
            bodyMode = .collect(collected, max: max)
        case .stream(let sink, let max):
            if bodyReceived > max {
                sink.abort()
                return respondTooLarge(max: max)
            }
            do {
                try sink.write(bytes)
            } catch {
                sink.abort()
                bodyMode = .discard
                queue(errorResponse(for: error), forceClose: true)
            }
        }
    }

    private func endOfBody() {
        guard let h = head else { return }
        if responded {
            if !hasPendingOutput { nextRequest() }
            return
        }
        phase = .responding
        let body: HTTPRequest.Body
        switch bodyMode {
        case .none, .discard:
            body = .none
        case .collect(let bytes, _):
            body = .bytes(bytes)
        case .stream(let sink, _):
            do {
                try sink.finish()
            } catch {
                sink.abort()
                queue(errorResponse(for: error), forceClose: true)
                return
            }
            body = .streamed(sink)
        }
        bodyMode = .none
        let loop = self.loop
        server.responder.respond(to: HTTPRequest(head: h, body: body)) { [self] response in
            if loop.inEventLoop {
                self.queue(response)
            } else {
                loop.execute { self.queue(response) }
            }
        }
    }

    private func errorResponse(for error: any Error) -> HTTPResponse {
        if let e = error as? any HTTPResponseConvertible { return e.response }
        return server.responder.errorResponse(status: 500, detail: "the request body could not be stored")
    }

    // MARK: Writing

    private var hasPendingOutput: Bool { outOffset < out.count || file != nil }

    /// Queues a response for the current request.
    private func queue(_ response: HTTPResponse, forceClose: Bool = false) {
        guard !closed, !responded else { return }
        responded = true
        let isHead = head?.method == "HEAD"
        let close = forceClose || response.closeConnection || !keepAlive || server.isDraining || peerClosed
        if close { closeAfterWrite = true }
        let length = response.body.length
        HTTPResponseEncoder.encodeHead(response, bodyLength: length, close: close,
                                       http10KeepAlive: head?.version == .http10 && !close, into: &out)
        let bodyAllowed = !isHead && response.status != 304 && response.status != 204
        if bodyAllowed {
            switch response.body {
            case .empty: break
            case .bytes(let b): out.append(contentsOf: b)
            case .file(let region, let offset, let length):
                if length > 0 { file = (region, Int(offset), Int(length)) }
            }
        }
        server.responded(status: response.status, bytes: bodyAllowed ? Int(length) : 0)
        lastWriteProgress = EventLoop.now()
        drive()
    }

    /// Writes what is pending; true when all of it went out.
    private func flush() -> Bool {
        while outOffset < out.count {
            guard writable, let n = accepted(out.withUnsafeBytes({ transmit($0.baseAddress! + outOffset, $0.count - outOffset) })) else {
                return false
            }
            outOffset += n
        }
        out.removeAll(keepingCapacity: out.capacity <= 64 * 1024)
        outOffset = 0
        if case .established = security { return flushFileThroughTLS() }
        while let f = file {
            guard writable else { return false }
            var offset = off_t(f.offset)
            let n = sendfile(fd, f.region.descriptor, &offset, min(f.remaining, 1 << 30))
            if n > 0 {
                lastWriteProgress = EventLoop.now()
                file = f.remaining == n ? nil : (f.region, f.offset + n, f.remaining - n)
            } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                writable = false
                return false
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                // The file shrank under us or the peer is gone: the framing is broken, so close.
                close()
                return false
            }
        }
        return true
    }

    /// The file part of a response under TLS: read in chunks at the file's offset (pread), each
    /// encrypted and written as the socket takes it.
    private func flushFileThroughTLS() -> Bool {
        while let f = file {
            guard writable else { return false }
            let chunk = fileChunk ?? UnsafeMutableRawBufferPointer.allocate(byteCount: Self.fileChunkBytes, alignment: 16)
            fileChunk = chunk
            if fileChunkStart == fileChunkEnd {
                let n = pread(f.region.descriptor, chunk.baseAddress!, min(chunk.count, f.remaining), off_t(f.offset))
                guard n > 0 else {
                    // The file shrank under us: the framing is broken, so close.
                    close()
                    return false
                }
                (fileChunkStart, fileChunkEnd) = (0, n)
            }
            guard let n = accepted(transmit(chunk.baseAddress! + fileChunkStart, fileChunkEnd - fileChunkStart)) else { return false }
            fileChunkStart += n
            file = f.remaining == n ? nil : (f.region, f.offset + n, f.remaining - n)
        }
        (fileChunkStart, fileChunkEnd) = (0, 0)
        return true
    }

    private func writeFinished() {
        if closeAfterWrite {
            if head?.hasBody == true && !requestComplete && !peerClosed {
                if case .established(let session) = security { session.shutdown() }
                Glibc.shutdown(fd, Int32(SHUT_WR))
                lingerUntil = EventLoop.now() + Self.lingerSeconds
                drainLinger()
            } else {
                close()
            }
            return
        }
        guard responded else { return }   // only a 100 Continue went out
        if requestComplete { nextRequest() }
    }

    /// Reads and drops what the client still sends, until it closes or the limits pass.
    private func drainLinger() {
        while readable && !closed {
            let n = read(fd, buffer.baseAddress!, buffer.count)
            if n > 0 {
                lingeredBytes += n
                if lingeredBytes > Self.lingerMaxBytes { close() }
            } else if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                close()
            } else if errno != EINTR {
                readable = false
            }
        }
    }

    private func nextRequest() {
        head = nil
        server.connections.setWaiting(self, since: EventLoop.now())
        bodyMode = .none
        responded = false
        requestComplete = false
        phase = .idle
        requestStart = start < end ? EventLoop.now() : nil
        if start < end { phase = .reading }
        phaseStart = EventLoop.now()
        if server.isDraining { close() }
    }

    /// Answers a request the server itself refuses, then closes.
    private func fail(_ status: Int, _ detail: String) {
        if case .stream(let sink, _) = bodyMode { sink.abort() }
        bodyMode = .discard
        if responded || hasPendingOutput { close(); return }
        queue(server.responder.errorResponse(status: status, detail: detail), forceClose: true)
    }

    func close() {
        guard !closed else { return }
        closed = true
        if case .stream(let sink, _) = bodyMode { sink.abort() }
        bodyMode = .none
        file = nil
        if case .established(let session) = security { session.shutdown() }
        security = nil
        loop.deregister(fd)
        Glibc.close(fd)
        server.connections.remove(self)
        server.connectionClosed()
    }

    /// Chosen to make room at a connection cap: closed if it is still without a request head.
    /// What the socket holds is read first, so a client whose request has arrived but not yet
    /// been read (a prompt one, just accepted while evicted clients reconnect in a storm) is
    /// served rather than closed.
    func evictIfWaitingForHead() {
        guard !closed, head == nil, phase != .responding, !hasPendingOutput else { return }
        drive()
        guard !closed, head == nil, phase != .responding, !hasPendingOutput else { return }
        if requestStart == nil {
            close()
        } else {
            fail(503, "the server needed this connection for a client that sent its request; the request head was still incomplete")
        }
    }

    /// For graceful shutdown: close now if nothing is in progress, else after this response.
    func drainOrClose() {
        if phase == .idle && !hasPendingOutput { close() } else { keepAlive = false }
    }
}
