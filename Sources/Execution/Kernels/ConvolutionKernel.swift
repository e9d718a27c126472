/// N-d convolution (1-d to 3-d): a direct loop for depthwise, a plain GEMM for 1×1 stride-1
/// unpadded kernels, im2col + GEMM for everything else (groups, strides, dilations, padding).
/// `residual` and `clamp` are an Add and an activation merged into it (`ConvolutionFusion`):
/// the output is clamp(convolution + residual).
enum ConvolutionKernel {
    static func run(_ x: Value, weight: Value, bias: Value?, _ attributes: Convolution, residual: Value? = nil, clamp: Clamp?,
                    _ context: KernelContext) throws(ExecutionError) -> Value {
        guard x.type == .float32, weight.type == .float32 else { throw context.unsupported("convolution operands must be float") }
        let spatialRank = x.rank - 2
        guard spatialRank >= 1, spatialRank <= SpatialGeometry.axes else {
            throw context.unsupported("convolution over \(max(spatialRank, 0)) spatial axes; 1 to 3 are supported")
        }
        guard weight.rank == x.rank else { throw context.shapeMismatch("a weight of \(weight.shape) for an input of \(x.shape)") }
        let batch = x.shape[0], channels = x.shape[1], outChannels = weight.shape[0], groups = attributes.groups
        guard groups >= 1, channels % groups == 0, outChannels % groups == 0, weight.shape[1] == channels / groups else {
            throw context.shapeMismatch("a weight of \(weight.shape) with \(groups) groups does not fit \(channels) input channels")
        }
        if let bias, bias.count != outChannels {
            throw context.shapeMismatch("the bias has \(bias.count) values for \(outChannels) output channels")
        }
        let inputSpatial = Array(x.shape[2...]), kernel = Array(weight.shape[2...])
        let strides = try SpatialGeometry.perAxis(attributes.strides, spatialRank, "strides", context)
        let dilations = try SpatialGeometry.perAxis(attributes.dilations, spatialRank, "dilations", context)
        let (padBegin, padEnd) = try SpatialGeometry.pads(attributes.padding, input: inputSpatial, kernel: kernel,
                                                          strides: strides, dilations: dilations, context)
        let span = SpatialGeometry.effectiveKernel(kernel, dilations)
        var outputSpatial: [Int] = []
        for axis in 0..<spatialRank {
            let padded = inputSpatial[axis] + padBegin[axis] + padEnd[axis]
            guard padded >= span[axis] else {
                throw context.shapeMismatch("a kernel spanning \(span[axis]) is larger than the padded input's \(padded) on spatial axis \(axis)")
            }
            outputSpatial.append((padded - span[axis]) / strides[axis] + 1)
        }
        let geometry = SpatialGeometry(input: inputSpatial, output: outputSpatial, kernel: kernel, strides: strides,
                                       dilations: dilations, padBegin: padBegin, padEnd: padEnd)
        let depthwise = groups == channels && outChannels == channels
        if let residual, depthwise || residual.type != .float32 || residual.shape != [batch, outChannels] + outputSpatial {
            // A residual the GEMM cannot start from (broadcast, or beside the direct depthwise loop): added after.
            let sum = try BinaryKernel.run(.add, try run(x, weight: weight, bias: bias, attributes, clamp: nil, context), residual, context)
            return clamp.map { $0.run(sum, context) } ?? sum
        }
        let result = context.allocate(.float32, shape: [batch, outChannels] + outputSpatial)
        let inChannelsPerGroup = channels / groups, outChannelsPerGroup = outChannels / groups
        let positions = geometry.outputSize, kernelSize = geometry.kernelSize
        if depthwise {
            self.depthwise(x.floats, weight.floats, bias: bias?.floats, result.floats, planes: batch * channels, channels: channels, geometry,
                      clamp: clamp, context)
            return result
        }
        let pointwise = kernelSize == 1 && geometry.strides.allSatisfy { $0 == 1 }
            && geometry.padBegin.allSatisfy { $0 == 0 } && geometry.padEnd.allSatisfy { $0 == 0 }
        let rows = inChannelsPerGroup * kernelSize, m = outChannelsPerGroup
        let columns = pointwise ? nil : context.scratch(floats: rows * positions)
        // Each output is made in tiles small enough to stay in cache from the GEMM to the bias
        // and clamp written over them, as many as a multiple of the threads; a tile spans at
        // least `minimumTileColumns` positions unless there are fewer, else the channels are split.
        let tileCount = (max(m * positions / tileElements, 1) + context.threads - 1) / context.threads * context.threads
        let columnTiles = max(1, min(tileCount, positions / minimumTileColumns))
        let rowTiles = min(m, max(1, tileCount / columnTiles))
        let (filters, output) = (weight.floats, result.floats)
        let tilesPerMatrix = rowTiles * columnTiles
        // One tile of one (image, group) product: bias and residual, GEMM, clamp.
        func multiplyTile(_ tile: Int, image: Int, group: Int, matrix: UnsafePointer<Float>) {
            let offset = (image * outChannels + group * m) * positions, planes = output + offset
            let rowStart = m * (tile / columnTiles) / rowTiles, rowEnd = m * (tile / columnTiles + 1) / rowTiles
            let column = tile % columnTiles
            let start = positions * column / columnTiles, end = positions * (column + 1) / columnTiles
            if let residual {
                let biases = bias.map { $0.floats + group * m }
                for row in rowStart..<rowEnd {
                    let from = residual.floats + offset + row * positions + start, to = planes + row * positions + start
                    let shift = biases?[row] ?? 0
                    for i in 0..<(end - start) { to[i] = from[i] + shift }
                }
            } else if let bias {
                let biases = bias.floats + group * m
                for row in rowStart..<rowEnd { (planes + row * positions + start).update(repeating: biases[row], count: end - start) }
            }
            GEMM.multiply(m: rowEnd - rowStart, n: end - start, k: rows,
                          a: filters + (group * m + rowStart) * rows, lda: rows, transposeA: false,
                          b: matrix + start, ldb: positions, transposeB: false,
                          c: planes + rowStart * positions + start, ldc: positions, beta: bias == nil && residual == nil ? 0 : 1, threads: 1)
            if let clamp {
                for row in rowStart..<rowEnd {
                    let line = planes + row * positions + start
                    clamp.apply(line, line, count: end - start)
                }
            }
        }
        let tileCost = m / rowTiles * rows * positions / columnTiles
        guard let columns else {
            // The input planes are the matrices: every tile of every image and group in one parallel loop.
            let input = x.floats
            context.parallelFor(batch * groups * tilesPerMatrix, costPerItem: tileCost) { tiles in
                for index in tiles {
                    let matrix = index / tilesPerMatrix, image = matrix / groups, group = matrix % groups
                    multiplyTile(index % tilesPerMatrix, image: image, group: group,
                                 matrix: input + (image * channels + group * inChannelsPerGroup) * geometry.inputSize)
                }
            }
            return result
        }
        let unfolded = columns.pointer.assumingMemoryBound(to: Float.self)
        for image in 0..<batch {
            for group in 0..<groups {
                imageToColumns(x.floats + (image * channels + group * inChannelsPerGroup) * geometry.inputSize, unfolded,
                               channels: inChannelsPerGroup, geometry, context)
                context.parallelFor(tilesPerMatrix, costPerItem: tileCost) { tiles in
                    for tile in tiles { multiplyTile(tile, image: image, group: group, matrix: unfolded) }
                }
            }
        }
        return result
    }

    /// Output elements per tile of the GEMM path: a tile of floats that stays in L2.
    private static let tileElements = 32 * 1024
    private static let minimumTileColumns = 128

    /// Unfolds `channels` input planes into rows (channel, kernel position) × output positions,
    /// zeros where the window reads padding.
    static func imageToColumns(_ input: UnsafePointer<Float>, _ columns: UnsafeMutablePointer<Float>, channels: Int,
                               _ g: SpatialGeometry, _ context: KernelContext) {
        let kernelSize = g.kernelSize, positions = g.outputSize
        let (outD, outH, outW) = (g.output[0], g.output[1], g.output[2])
        let (inD, inH, inW) = (g.input[0], g.input[1], g.input[2])
        context.parallelFor(channels * kernelSize, costPerItem: positions) { rows in
            for row in rows {
                let channel = row / kernelSize, tap = row % kernelSize
                let kd = tap / (g.kernel[1] * g.kernel[2]), kh = (tap / g.kernel[2]) % g.kernel[1], kw = tap % g.kernel[2]
                let plane = input + channel * inD * inH * inW
                let target = columns + row * positions
                let validD = g.validOutputs(axis: 0, offset: kd * g.dilations[0])
                let validH = g.validOutputs(axis: 1, offset: kh * g.dilations[1])
                let validW = g.validOutputs(axis: 2, offset: kw * g.dilations[2])
                let strideW = g.strides[2], shiftW = kw * g.dilations[2] - g.padBegin[2]
                for od in 0..<outD {
                    for oh in 0..<outH {
                        let line = target + (od * outH + oh) * outW
                        guard validD.contains(od), validH.contains(oh) else {
                            line.update(repeating: 0, count: outW)
                            continue
                        }
                        let id = od * g.strides[0] - g.padBegin[0] + kd * g.dilations[0]
                        let ih = oh * g.strides[1] - g.padBegin[1] + kh * g.dilations[1]
                        let source = plane + (id * inH + ih) * inW
                        for ow in 0..<validW.lowerBound { line[ow] = 0 }
                        if strideW == 1 {
                            (line + validW.lowerBound).update(from: source + validW.lowerBound + shiftW, count: validW.count)
                        } else {
                            for ow in validW { line[ow] = source[ow * strideW + shiftW] }
                        }
                        for ow in validW.upperBound..<outW { line[ow] = 0 }
                    }
                }
            }
        }
    }

    /// One filter per channel: each output plane reads only its own input plane. The plane's
    /// rows are first copied with their padding and split by stride phase, so every tap reads
    /// one contiguous run; each output row is then summed over all taps in registers.
    private static func depthwise(_ input: UnsafeMutablePointer<Float>, _ weight: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>?,
                                  _ output: UnsafeMutablePointer<Float>, planes: Int, channels: Int,
                                  _ g: SpatialGeometry, clamp: Clamp?, _ context: KernelContext) {
        typealias Lane = SIMD8<Float>
        let kernelSize = g.kernelSize, positions = g.outputSize, inputSize = g.inputSize
        let (outD, outH, outW) = (g.output[0], g.output[1], g.output[2])
        let (inD, inH, inW) = (g.input[0], g.input[1], g.input[2])
        let (kernelD, kernelH, kernelW) = (g.kernel[0], g.kernel[1], g.kernel[2])
        let strideW = g.strides[2], padW = g.padBegin[2], paddedW = inW + padW + g.padEnd[2]
        // A prepared row holds padded position q at (q mod stride)·phaseLength + q / stride.
        let phaseLength = (paddedW + strideW - 1) / strideW, rowLength = strideW * phaseLength
        // Per phase, the slots that read the input (phase + j·stride − pad inside it); the rest are padding.
        let filled = (0..<strideW).map { phase in
            let first = min(phaseLength, (padW - phase + strideW - 1) / strideW)
            return first..<max(first, min(phaseLength, (inW + padW - phase + strideW - 1) / strideW))
        }
        let tapOffsets = (0..<kernelW).map { kw in
            let q = kw * g.dilations[2]
            return (q % strideW) * phaseLength + q / strideW
        }
        context.parallelFor(planes, costPerItem: positions * kernelSize) { range in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: inD * inH * rowLength + Lane.scalarCount) { prepared in
                withUnsafeTemporaryAllocation(of: (UnsafePointer<Float>, Float).self, capacity: kernelSize) { taps in
                    let rows = prepared.baseAddress!
                    // One lane of zeros after the last row, for the partial lanes at row ends to read.
                    (rows + inD * inH * rowLength).initialize(repeating: 0, count: Lane.scalarCount)
                    for plane in range {
                        let source = input + plane * inputSize, target = output + plane * positions
                        let filter = weight + (plane % channels) * kernelSize
                        let start = bias?[plane % channels] ?? 0
                        for r in 0..<(inD * inH) {
                            let from = source + r * inW, to = rows + r * rowLength
                            for (phase, slots) in filled.enumerated() {
                                let lane = to + phase * phaseLength
                                lane.update(repeating: 0, count: slots.lowerBound)
                                (lane + slots.upperBound).update(repeating: 0, count: phaseLength - slots.upperBound)
                            }
                            if strideW == 1 {
                                (to + padW).update(from: from, count: inW)
                            } else if strideW == 2 {
                                // Input i lands at padded i + pad: evens in one phase, odds in the other.
                                deinterleave(from, count: inW, evens: to + (padW & 1) * phaseLength + padW / 2,
                                             odds: to + ((padW + 1) & 1) * phaseLength + (padW + 1) / 2)
                            } else {
                                for (phase, slots) in filled.enumerated() {
                                    let lane = to + phase * phaseLength + slots.lowerBound
                                    let read = from + phase + slots.lowerBound * strideW - padW
                                    for j in 0..<slots.count { lane[j] = read[j * strideW] }
                                }
                            }
                        }
                        for od in 0..<outD {
                            for oh in 0..<outH {
                                var count = 0
                                for kd in 0..<kernelD {
                                    let id = od * g.strides[0] - g.padBegin[0] + kd * g.dilations[0]
                                    guard id >= 0, id < inD else { continue }
                                    for kh in 0..<kernelH {
                                        let ih = oh * g.strides[1] - g.padBegin[1] + kh * g.dilations[1]
                                        guard ih >= 0, ih < inH else { continue }
                                        let row = rows + (id * inH + ih) * rowLength
                                        for kw in 0..<kernelW {
                                            taps[count] = (UnsafePointer(row + tapOffsets[kw]), filter[(kd * kernelH + kh) * kernelW + kw])
                                            count += 1
                                        }
                                    }
                                }
                                let line = target + (od * outH + oh) * outW
                                var ow = 0
                                while ow + Lane.scalarCount <= outW {
                                    var sum = Lane(repeating: start)
                                    for t in 0..<count {
                                        sum += taps[t].1 * UnsafeRawPointer(taps[t].0 + ow).loadUnaligned(as: Lane.self)
                                    }
                                    UnsafeMutableRawPointer(line + ow).storeBytes(of: sum, as: Lane.self)
                                    ow += Lane.scalarCount
                                }
                                if ow < outW {
                                    // Lanes past the row's end read the next row or the slack and are dropped.
                                    var sum = Lane(repeating: start)
                                    for t in 0..<count {
                                        sum += taps[t].1 * UnsafeRawPointer(taps[t].0 + ow).loadUnaligned(as: Lane.self)
                                    }
                                    for lane in 0..<(outW - ow) { line[ow + lane] = sum[lane] }
                                }
                                clamp?.apply(line, line, count: outW)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Splits `count` floats into the even-indexed and the odd-indexed ones, eight at a time.
    @inline(__always)
    private static func deinterleave(_ source: UnsafePointer<Float>, count: Int, evens: UnsafeMutablePointer<Float>,
                                     odds: UnsafeMutablePointer<Float>) {
        var half = 0
        while 2 * half + 8 <= count {
            let pairs = UnsafeRawPointer(source + 2 * half).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(evens + half).storeBytes(of: pairs.evenHalf, as: SIMD4<Float>.self)
            UnsafeMutableRawPointer(odds + half).storeBytes(of: pairs.oddHalf, as: SIMD4<Float>.self)
            half += 4
        }
        for i in (2 * half)..<count {
            if i & 1 == 0 { evens[i / 2] = source[i] } else { odds[i / 2] = source[i] }
        }
    }
}
