import Testing
@testable import Compression

@Suite struct EncodeOrderTests {
    @Test func fileOrderWhileInflatingThenLargestFirst() {
        var order = EncodeOrder(sizes: [10, 50, 20, 50, 5, 40])
        #expect(order.next(allInMemory: false) == 0)
        #expect(order.next(allInMemory: false) == 1)
        // Largest first among those left; equal sizes in file order.
        #expect(order.next(allInMemory: true) == 3)
        #expect(order.next(allInMemory: true) == 5)
        // Back in file order, skipping what was taken.
        #expect(order.next(allInMemory: false) == 2)
        #expect(order.next(allInMemory: true) == 4)
        #expect(order.next(allInMemory: true) == nil)
        #expect(order.next(allInMemory: false) == nil)
    }

    @Test func everyWeightOnceWhateverTheMix() {
        var rng = SystemRandomNumberGenerator()
        let sizes = (0..<200).map { _ in Int.random(in: 1...1000, using: &rng) }
        var order = EncodeOrder(sizes: sizes)
        var seen: [Int] = []
        while let next = order.next(allInMemory: Bool.random(using: &rng)) { seen.append(next) }
        #expect(seen.sorted() == Array(sizes.indices))
    }

    @Test func largestFirstWhenEverythingIsInMemory() {
        let sizes = [3, 9, 1, 9, 4]
        var order = EncodeOrder(sizes: sizes)
        var seen: [Int] = []
        while let next = order.next(allInMemory: true) { seen.append(next) }
        #expect(seen == [1, 3, 4, 0, 2])
    }
}
