/// Merges into a convolution with constant weights the nodes after it that only transform its
/// output element by element, as PyTorch exports leave them (MobileNetV2: Conv,
/// BatchNormalization, Clip; ResNet: Conv, Add, Relu): an inference batch normalization is
/// folded into the weights and bias, a residual Add becomes a fourth operand the convolution
/// starts its sums from, then a ReLU or a Clip with constant bounds becomes a clamp it applies
/// as it writes. A node is merged only when the convolution's output is read by it alone and
/// is not a graph output, so no other step sees the difference; the merged step runs where the
/// last merged node stood, after everything it reads. The merged nodes' own outputs are never
/// made, so this plan serves runs without an observer only.
enum ConvolutionFusion {
    /// One node to run, by slot, before release planning.
    struct PlannedStep {
        var node: Node
        var operation: Operation
        var operands: [Int?]
        var results: [Int]
        /// Applied to a convolution's output as it is written (merged ReLU or Clip).
        var clamp: Clamp? = nil
    }

    /// `steps` with the merges made; folded weights and biases go into `constants` under slots
    /// from `newSlot`, allocated from `arena`.
    static func fuse(_ steps: [PlannedStep], constants: inout [Int: Value], kept: Set<Int>,
                     newSlot: (String) -> Int, arena: Arena) -> [PlannedStep] {
        var readers: [Int: [Int]] = [:]
        for (index, step) in steps.enumerated() {
            for case let operand? in step.operands { readers[operand, default: []].append(index) }
        }
        var fused = steps.map { Optional($0) }
        // A node one convolution merged is gone for the others (two convolutions feed one Add).
        var absorbed = Set<Int>()
        for index in steps.indices {
            guard case .convolution = steps[index].operation, steps[index].results.count == 1,
                  steps[index].operands.count >= 2, let weightSlot = steps[index].operands[1], constants[weightSlot] != nil,
                  steps[index].operands.count < 3 || steps[index].operands[2].map({ constants[$0] != nil }) ?? true else { continue }
            var step = steps[index], position = index
            while let output = step.results.first, !kept.contains(output),
                  let onlyReader = readers[output], onlyReader.count == 1, let next = onlyReader.first, !absorbed.contains(next) {
                let reader = steps[next]
                guard reader.results.count == 1 else { break }
                if case .binary(.add) = reader.operation, step.clamp == nil, step.operands.count < 4, reader.operands.count == 2,
                   let residual = reader.operands[0] == output ? reader.operands[1] : reader.operands[0], residual != output {
                    step.operands = [step.operands[0], step.operands[1], step.operands.count > 2 ? step.operands[2] : nil, residual]
                    fused[position] = nil
                    absorbed.insert(next)
                    (position, step.results) = (next, reader.results)
                    continue
                }
                guard reader.operands.first == output,
                      reader.operands.dropFirst().allSatisfy({ $0.map { constants[$0] != nil } ?? true }) else { break }
                let values = reader.operands.map { $0.flatMap { constants[$0] } }
                func operand(_ position: Int) -> Value? { position < values.count ? values[position] : nil }
                var merged = false
                switch reader.operation {
                case .batchNormalization(let epsilon) where step.clamp == nil && step.operands.count < 4:
                    if let folded = fold(step, epsilon: epsilon, scale: operand(1), shift: operand(2), mean: operand(3),
                                         variance: operand(4), constants: constants, arena: arena) {
                        let weight = newSlot("\(step.node.name)#folded weight"), bias = newSlot("\(step.node.name)#folded bias")
                        constants[weight] = folded.weight
                        constants[bias] = folded.bias
                        step.operands[1] = weight
                        if step.operands.count > 2 { step.operands[2] = bias } else { step.operands.append(bias) }
                        merged = true
                    }
                case .unary(.relu) where step.clamp == nil:
                    step.clamp = .relu
                    merged = true
                case .clip where step.clamp == nil:
                    let low = operand(1), high = operand(2)
                    if [low, high].allSatisfy({ $0 == nil || ($0!.type == .float32 && $0!.count == 1) }) {
                        step.clamp = Clamp(low: low?.firstFloat ?? -.infinity, high: high?.firstFloat ?? .infinity)
                        merged = true
                    }
                default:
                    break
                }
                guard merged else { break }
                fused[position] = nil
                absorbed.insert(next)
                (position, step.results) = (next, reader.results)
            }
            fused[position] = step
        }
        return fused.compactMap { $0 }
    }

    /// The convolution's weights and bias with the batch normalization after it folded in:
    /// each output channel's filter times its multiplier, its bias times it plus the offset.
    private static func fold(_ step: PlannedStep, epsilon: Float, scale: Value?, shift: Value?, mean: Value?, variance: Value?,
                             constants: [Int: Value], arena: Arena) -> (weight: Value, bias: Value)? {
        guard let scale, let shift, let mean, let variance, let weightSlot = step.operands[1], let weight = constants[weightSlot],
              weight.type == .float32, weight.rank >= 1 else { return nil }
        let channels = weight.shape[0]
        let bias = step.operands.count > 2 ? step.operands[2].flatMap { constants[$0] } : nil
        guard [scale, shift, mean, variance].allSatisfy({ $0.type == .float32 && $0.count == channels }),
              bias.map({ $0.type == .float32 && $0.count == channels }) ?? true else { return nil }
        let (multiplier, offset) = NormalizationKernels.batchCoefficients(scale: scale, bias: shift, mean: mean, variance: variance,
                                                                           epsilon: epsilon)
        let perChannel = weight.count / max(channels, 1)
        let foldedWeight = Value(shape: weight.shape, type: .float32, buffer: arena.allocate(.float32, count: weight.count))
        let foldedBias = Value(shape: [channels], type: .float32, buffer: arena.allocate(.float32, count: channels))
        for channel in 0..<channels {
            let from = weight.floats + channel * perChannel, to = foldedWeight.floats + channel * perChannel
            for i in 0..<perChannel { to[i] = from[i] * multiplier[channel] }
            foldedBias.floats[channel] = (bias?.floats[channel] ?? 0) * multiplier[channel] + offset[channel]
        }
        return (foldedWeight, foldedBias)
    }
}
