import Foundation
@testable import ModelFormats

/// Shorthands for the MIL messages the Core ML proto tests build by hand.
enum MIL {
    typealias DataType = CoreML_Specification_MILSpec_DataType

    static func tensorType(_ dataType: DataType, _ shape: [UInt64]) -> CoreML_Specification_MILSpec_ValueType {
        .with {
            $0.tensorType = .with {
                $0.dataType = dataType
                $0.rank = Int64(shape.count)
                $0.dimensions = shape.map { size in .with { $0.constant = .with { $0.size = size } } }
            }
        }
    }

    static func output(_ name: String, _ type: CoreML_Specification_MILSpec_ValueType)
        -> CoreML_Specification_MILSpec_NamedValueType
    {
        .with {
            $0.name = name
            $0.type = type
        }
    }

    static func ints(_ values: [Int32]) -> CoreML_Specification_MILSpec_Value {
        .with {
            $0.type = tensorType(.int32, [UInt64(values.count)])
            $0.immediateValue = .with { $0.tensor = .with { $0.ints = .with { $0.values = values } } }
        }
    }

    static func bool(_ value: Bool) -> CoreML_Specification_MILSpec_Value {
        .with {
            $0.type = tensorType(.bool, [])
            $0.immediateValue = .with { $0.tensor = .with { $0.bools = .with { $0.values = [value] } } }
        }
    }

    static func string(_ value: String) -> CoreML_Specification_MILSpec_Value {
        .with {
            $0.type = tensorType(.string, [])
            $0.immediateValue = .with { $0.tensor = .with { $0.strings = .with { $0.values = [value] } } }
        }
    }

    /// An op argument bound to a value defined earlier in the program.
    static func named(_ name: String) -> CoreML_Specification_MILSpec_Argument {
        .with { $0.arguments = [.with { $0.name = name }] }
    }

    /// An op argument bound to a constant.
    static func constant(_ value: CoreML_Specification_MILSpec_Value) -> CoreML_Specification_MILSpec_Argument {
        .with { $0.arguments = [.with { $0.value = value }] }
    }
}
