import Foundation
import Glibc

/// The on-disk layout under the data dir; every path the service writes comes from here.
///
///     quantd.sqlite   jobs and models (the embedded store; a cluster keeps them in PostgreSQL)
///     models/<sha256> uploaded models by content hash
///     datasets/<sha256> uploaded sample datasets by content hash
///     artifacts/      <job>.<ext>.gz and <job>.report.json
///     tmp/<node>/     this node's in-flight uploads and writes, emptied when it starts
///
/// Several nodes may share one data dir (NFS, EFS, a ReadWriteMany volume): every final name is
/// content- or job-addressed and written by rename from the node's own tmp/ folder, on the
/// same file system, so a reader on any node sees a whole file or none.
struct DataDirectory: Sendable {
    let root: String
    /// The node whose tmp/ folder this is (`cluster.node_id`).
    let node: String

    init(root: String, node: String = "local") {
        self.root = root
        self.node = node
    }

    var database: String { root + "/quantd.sqlite" }
    var models: String { root + "/models" }
    var datasets: String { root + "/datasets" }
    var artifacts: String { root + "/artifacts" }
    var tmp: String { root + "/tmp/" + node }

    func model(_ id: String) -> String { models + "/" + id }
    func dataset(_ id: String) -> String { datasets + "/" + id }
    func artifact(job: String) -> String { artifacts + "/" + job + ".gz" }
    func report(job: String) -> String { artifacts + "/" + job + ".report.json" }
    func temporary(_ name: String) -> String { tmp + "/" + name }

    /// Creates the folders and empties this node's tmp/: whatever is there was cut off by a
    /// crash and is never visible under its final name. Other nodes' folders are theirs.
    func prepare() throws {
        let fm = FileManager.default
        for dir in [root, models, datasets, artifacts, tmp] {
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        for name in (try? fm.contentsOfDirectory(atPath: tmp)) ?? [] {
            try? fm.removeItem(atPath: tmp + "/" + name)
        }
        // Files (not folders) directly in tmp/ are from before tmp/ was per node.
        let shared = root + "/tmp"
        for name in (try? fm.contentsOfDirectory(atPath: shared)) ?? [] {
            var isDirectory: ObjCBool = false
            if fm.fileExists(atPath: shared + "/" + name, isDirectory: &isDirectory), !isDirectory.boolValue {
                try? fm.removeItem(atPath: shared + "/" + name)
            }
        }
    }

    /// Whether the data dir can be written now: a file created, synced and removed in this
    /// node's tmp/ (a shared volume that went away fails here).
    func isWritable() -> Bool {
        let probe = temporary(".ready-\(UInt32.random(in: 0...UInt32.max))")
        let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        defer { close(fd); unlink(probe) }
        return write(fd, "ok", 2) == 2 && fsync(fd) == 0
    }

    /// Renames `from` to `to` and fsyncs the target directory, so the rename survives a crash.
    static func commit(_ from: String, to: String) throws {
        guard rename(from, to) == 0 else {
            throw Problem.storage("could not move a finished file into place: \(String(cString: strerror(errno)))")
        }
        syncDirectory(of: to)
    }

    static func syncDirectory(of path: String) {
        let dir = (path as NSString).deletingLastPathComponent
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }
}
