import Testing
@testable import ModelFormats
@testable import Service

@Suite struct OpenedPackagesTests {
    static let package = PackageFixture.linearProgram(weights: [256, 512])

    /// A kept package is not read again: its id answers even for bytes that are not a package.
    @Test func answersAKeptIdWithoutReadingTheBytes() throws {
        let packages = OpenedPackages()
        let first = try Self.package.withUnsafeBytes { try packages.open($0, id: "a") }
        #expect(first.model.weights.map(\.shape) == [[256, 64], [512, 64]])
        let garbage: [UInt8] = [1, 2, 3]
        let again = try garbage.withUnsafeBytes { try packages.open($0, id: "a") }
        #expect(again.model.weights.map(\.name) == first.model.weights.map(\.name))
        #expect(throws: Problem.self) { try garbage.withUnsafeBytes { try packages.open($0, id: "b") } }
        // A failed open keeps nothing.
        #expect(packages.ids == ["a"])
    }

    @Test func keepsTheMostRecentlyUsed() throws {
        let packages = OpenedPackages(keep: 2)
        for id in ["a", "b", "a", "c"] {
            _ = try Self.package.withUnsafeBytes { try packages.open($0, id: id) }
        }
        #expect(packages.ids == ["a", "c"])
    }
}
