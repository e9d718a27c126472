/// The order a job's cores take its weights in: file order while a weight file is still
/// inflating (the order the weights arrive in), largest first once every file is in memory,
/// so that the last weights to finish are small and no core waits long on another (ResNet
/// ends with its largest weights). Each weight is handed out once.
public struct EncodeOrder {
    private let bySize: [Int]
    private var taken: [Bool]
    private var fileNext = 0
    private var sizeNext = 0
    private var remaining: Int

    /// `sizes[i]`: the cost of weight `i` (its element count).
    public init(sizes: [Int]) {
        bySize = sizes.indices.sorted { (sizes[$0], $1) > (sizes[$1], $0) }
        taken = [Bool](repeating: false, count: sizes.count)
        remaining = sizes.count
    }

    /// The next weight to take, or nil when all are taken.
    public mutating func next(allInMemory: Bool) -> Int? {
        guard remaining > 0 else { return nil }
        let index: Int
        if allInMemory {
            while taken[bySize[sizeNext]] { sizeNext += 1 }
            index = bySize[sizeNext]
        } else {
            while taken[fileNext] { fileNext += 1 }
            index = fileNext
        }
        taken[index] = true
        remaining -= 1
        return index
    }
}
