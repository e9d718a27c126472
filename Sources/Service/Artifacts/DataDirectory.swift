import Foundation
import Glibc

/// The on-disk layout under the data dir; every path the service writes comes from here.
///
///     quantd.sqlite   jobs and models
///     models/<sha256> uploaded models by content hash
///     datasets/<sha256> uploaded sample datasets by content hash
///     artifacts/      <job>.<ext>.gz and <job>.report.json
///     tmp/            in-flight uploads and writes, emptied at start
struct DataDirectory: Sendable {
    let root: String

    var database: String { root + "/quantd.sqlite" }
    var models: String { root + "/models" }
    var datasets: String { root + "/datasets" }
    var artifacts: String { root + "/artifacts" }
    var tmp: String { root + "/tmp" }

    func model(_ id: String) -> String { models + "/" + id }
    func dataset(_ id: String) -> String { datasets + "/" + id }
    func artifact(job: String) -> String { artifacts + "/" + job + ".gz" }
    func report(job: String) -> String { artifacts + "/" + job + ".report.json" }
    func temporary(_ name: String) -> String { tmp + "/" + name }

    /// Creates the folders and empties tmp/: whatever is there was cut off by a crash and is
    /// never visible under its final name.
    func prepare() throws {
        let fm = FileManager.default
        for dir in [root, models, datasets, artifacts, tmp] {
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        for name in (try? fm.contentsOfDirectory(atPath: tmp)) ?? [] {
            try? fm.removeItem(atPath: tmp + "/" + name)
        }
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
