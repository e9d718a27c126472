/// Which of a job's progress reports are worth writing to the database: one that moves at
/// least `step` past the last written, and comes at least `interval` seconds after the job
/// started or the last write. Each write is ~1.5–2 ms of SQLite on the thread that reports,
/// which is a compressing one; a job of a few hundred milliseconds then writes none, and a
/// long one still shows its progress every `interval`.
struct ProgressThrottle {
    var step = 0.05
    var interval = 0.25
    private var lastProgress = 0.0
    private var lastTime: Double

    /// `start`: the job's start, in the same seconds as the times passed to `shouldWrite`.
    init(start: Double) {
        lastTime = start
    }

    mutating func shouldWrite(_ progress: Double, at time: Double) -> Bool {
        guard progress - lastProgress >= step, time - lastTime >= interval else { return false }
        (lastProgress, lastTime) = (progress, time)
        return true
    }
}
