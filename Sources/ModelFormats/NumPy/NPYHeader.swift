/// The Python dict literal of a `.npy` header —
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }` — read without evaluating it:
/// only the three keys numpy writes, string/bool/int-tuple values, nothing else accepted.
struct NPYHeader: Equatable {
    let descr: String
    let fortranOrder: Bool
    let shape: [Int]

    init(parsing text: String, array: String) throws(NumPyError) {
        var scanner = Scanner(characters: Array(text))
        var descr: String?
        var fortranOrder: Bool?
        var shape: [Int]?
        func fail(_ reason: String) -> NumPyError { .notNPY(array: array, reason: "its header \(reason)") }

        scanner.skipSpaces()
        guard scanner.take("{") else { throw fail("is not a dict literal") }
        while true {
            scanner.skipSpaces()
            if scanner.take("}") { break }
            guard let key = scanner.string() else { throw fail("has a key that is not a quoted string") }
            scanner.skipSpaces()
            guard scanner.take(":") else { throw fail("lacks ':' after '\(key)'") }
            scanner.skipSpaces()
            switch key {
            case "descr":
                guard let value = scanner.string() else {
                    throw fail("has a structured dtype; quantd reads plain numeric arrays")
                }
                descr = value
            case "fortran_order":
                if scanner.take("True") { fortranOrder = true } else if scanner.take("False") { fortranOrder = false } else {
                    throw fail("has a fortran_order that is not True or False")
                }
            case "shape":
                guard let value = scanner.integerTuple() else { throw fail("has a shape that is not a tuple of integers") }
                shape = value
            default:
                throw fail("has an unexpected key '\(key)'")
            }
            scanner.skipSpaces()
            if scanner.take(",") { continue }
            scanner.skipSpaces()
            guard scanner.take("}") else { throw fail("is not a well-formed dict literal") }
            break
        }
        guard let descr, let fortranOrder, let shape else { throw fail("lacks one of descr, fortran_order and shape") }
        self.descr = descr
        self.fortranOrder = fortranOrder
        self.shape = shape
    }

    private struct Scanner {
        let characters: [Character]
        var position = 0

        init(characters: [Character]) { self.characters = characters }

        mutating func skipSpaces() {
            while position < characters.count, characters[position].isWhitespace { position += 1 }
        }

        mutating func take(_ literal: String) -> Bool {
            let literal = Array(literal)
            guard position + literal.count <= characters.count,
                  Array(characters[position..<(position + literal.count)]) == literal else { return false }
            position += literal.count
            return true
        }

        mutating func string() -> String? {
            guard position < characters.count, characters[position] == "'" || characters[position] == "\"" else { return nil }
            let quote = characters[position]
            guard let end = characters[(position + 1)...].firstIndex(of: quote) else { return nil }
            defer { position = end + 1 }
            return String(characters[(position + 1)..<end])
        }

        /// `()`, `(3,)`, `(3, 4)`; dimensions must be non-negative.
        mutating func integerTuple() -> [Int]? {
            guard take("(") else { return nil }
            var values: [Int] = []
            while true {
                skipSpaces()
                if take(")") { return values }
                let start = position
                while position < characters.count, characters[position].isASCII, characters[position].isNumber { position += 1 }
                guard position > start, position - start <= 12, let value = Int(String(characters[start..<position])) else { return nil }
                values.append(value)
                skipSpaces()
                if take(",") { continue }
                skipSpaces()
                return take(")") ? values : nil
            }
        }
    }
}
