/// Which ops read each value of a block (nested blocks included), and what that implies for
/// a weight's output-channel axis.
struct MILConsumers {
    struct Use {
        let type: String
        /// The parameter the value is bound to ("weight", "x", "y" …).
        let parameter: String
        let op: CoreML_Specification_MILSpec_Operation
    }

    private var uses: [String: [Use]] = [:]
    /// Immediate boolean consts by output name, for flags such as matmul's transpose_y.
    private var booleans: [String: Bool] = [:]
    /// Immediate integer scalar consts by output name, for conv's `groups`.
    private var integers: [String: Int] = [:]

    init(block: CoreML_Specification_MILSpec_Block) {
        MLProgramModel.forEachOperation(in: block) { op in
            if op.type == "const", let output = op.outputs.first, let flag = Self.boolean(op.attributes["val"]) {
                booleans[output.name] = flag
            }
            if op.type == "const", let output = op.outputs.first, let value = Self.integer(op.attributes["val"]) {
                integers[output.name] = value
            }
            for (parameter, argument) in op.inputs {
                for binding in argument.arguments {
                    if case .name(let name)? = binding.binding {
                        uses[name, default: []].append(Use(type: op.type, parameter: parameter, op: op))
                    }
                }
            }
        }
    }

    func uses(of name: String) -> [Use] { uses[name] ?? [] }

    /// coremltools' `select_input_output_channel_axis`: conv_transpose weights have output
    /// channels on axis 1; matmul's y on −1 (−2 if transpose_y), its x on −2 (−1 if
    /// transpose_x); everything else on 0. Nil when consumers disagree.
    func outputAxis(of name: String, rank: Int) -> Int? {
        var axes = Set<Int>()
        for use in uses(of: name) {
            var axis = 0
            switch use.type {
            case "conv_transpose":
                axis = 1
            case "matmul":
                let flag = flag(use.op, use.parameter == "y" ? "transpose_y" : "transpose_x")
                axis = use.parameter == "y" ? (flag ? -2 : -1) : (flag ? -1 : -2)
            default:
                break
            }
            axes.insert(axis < 0 ? axis + rank : axis)
        }
        if axes.isEmpty { return 0 }
        return axes.count == 1 ? axes.first : nil
    }

    /// The largest `groups` of the conv and conv_transpose ops reading `name` (1 for others):
    /// each group sees only its share of the weight's first axis.
    func convolutionGroups(of name: String) -> Int {
        uses(of: name).filter { $0.type == "conv" || $0.type == "conv_transpose" }.map { use in
            guard let binding = use.op.inputs["groups"]?.arguments.first else { return 1 }
            switch binding.binding {
            case .name(let name)?: return integers[name] ?? 1
            case .value(let value)?: return Self.integer(value) ?? 1
            case nil: return 1
            }
        }.max() ?? 1
    }

    private func flag(_ op: CoreML_Specification_MILSpec_Operation, _ parameter: String) -> Bool {
        guard let binding = op.inputs[parameter]?.arguments.first else { return false }
        switch binding.binding {
        case .name(let name)?: return booleans[name] ?? false
        case .value(let value)?: return Self.boolean(value) ?? false
        case nil: return false
        }
    }

    private static func integer(_ value: CoreML_Specification_MILSpec_Value?) -> Int? {
        guard case .immediateValue(let immediate)? = value?.value, case .tensor(let tensor)? = immediate.value,
              case .ints(let ints)? = tensor.value, ints.values.count == 1 else { return nil }
        return Int(ints.values[0])
    }

    private static func boolean(_ value: CoreML_Specification_MILSpec_Value?) -> Bool? {
        guard case .immediateValue(let immediate)? = value?.value, case .tensor(let tensor)? = immediate.value,
              case .bools(let bools)? = tensor.value, bools.values.count == 1 else { return nil }
        return bools.values[0]
    }
}
