import Execution
import Testing
@testable import ModelFormats

@Suite struct NPYHeaderTests {
    @Test(arguments: [
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", "<f4", false, [3, 4]),
        ("{'descr': '|b1', 'fortran_order': True, 'shape': (5,), }", "|b1", true, [5]),
        ("{'descr': '<i8', 'fortran_order': False, 'shape': (), }", "<i8", false, []),
        ("{\"shape\": (2,3), \"descr\": \">f8\", \"fortran_order\": False}", ">f8", false, [2, 3]),
    ])
    func readsWhatNumpyWrites(text: String, descr: String, fortran: Bool, shape: [Int]) throws {
        let header = try NPYHeader(parsing: text, array: "a")
        #expect(header.descr == descr)
        #expect(header.fortranOrder == fortran)
        #expect(header.shape == shape)
    }

    @Test(arguments: [
        "[1, 2]",
        "{'descr': '<f4', 'fortran_order': False}",
        "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }",
        "{'descr': '<f4', 'fortran_order': maybe, 'shape': (1,), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'evil': __import__('os'), }",
        "{'descr': '<f4' 'fortran_order': False, 'shape': (1,)}",
    ])
    func refusesWhatIsNotAPlainHeader(text: String) {
        #expect(throws: NumPyError.self) { try NPYHeader(parsing: text, array: "a") }
    }

    @Test func aShapeTooLargeToExistIsRefusedNotTrapped() {
        let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (999999999999, 999999999999), }"
        let bytes = NPYArray.magic + [1, 0, UInt8(dict.utf8.count), 0] + Array(dict.utf8)
        #expect(throws: NumPyError.self) { try bytes.withUnsafeBytes { _ = try NPYArray(name: "a", parsing: $0) } }
    }

    @Test func dataShorterThanTheShapeNeedsIsTruncated() {
        let tensor = ConstantTensor(shape: [4], elements: .float32([1, 2, 3, 4]))
        let bytes = NPZWriter.header(for: tensor) + NPZWriter.data(of: tensor).dropLast(4)
        #expect(throws: NumPyError.truncated(array: "a", expected: 16, actual: 12)) {
            try bytes.withUnsafeBytes { _ = try NPYArray(name: "a", parsing: $0) }
        }
    }
}
