import Testing
@testable import QuantCore

private struct Items: WeightedKeys {
    let keys: [UInt32]
    let weights: [Int]
    let keyBits: Int
    var itemCount: Int { keys.count }
    func key(at item: Int) -> UInt32 { keys[item] }
    func weight(at item: Int) -> Int { weights[item] }
}

@Suite struct RankSelectionTests {
    @Test(arguments: [15, 31])
    func matchesASort(keyBits: Int) {
        var generator = SplitMix64(seed: UInt64(keyBits))
        let keys = (0..<200_000).map { _ in UInt32.random(in: 0..<(1 << UInt32(keyBits)), using: &generator) }
        let sorted = keys.sorted()
        let ranks = [0, 1, 99_999, 100_000, 199_999]
        let items = Items(keys: keys, weights: [Int](repeating: 1, count: keys.count), keyBits: keyBits)
        #expect(RankSelection.keys(atRanks: ranks, of: items) == ranks.map { sorted[$0] })
    }

    @Test func weightsRepeatKeys() {
        let items = Items(keys: [30, 10, 20], weights: [1, 3, 2], keyBits: 31)
        // Sorted with repeats: 10 10 10 20 20 30.
        #expect(RankSelection.keys(atRanks: [0, 2, 3, 4, 5], of: items) == [10, 10, 20, 20, 30])
    }
}
