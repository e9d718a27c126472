"""Weight shapes of the benchmark models, generated from the architectures (no downloads)."""


def resnet50_weight_shapes():
    """Conv and linear weight shapes of torchvision's ResNet50 (25.5 M of its 25.6 M params)."""
    shapes = [(64, 3, 7, 7)]
    inplanes = 64
    for planes, blocks in ((64, 3), (128, 4), (256, 6), (512, 3)):
        for b in range(blocks):
            shapes += [(planes, inplanes, 1, 1), (planes, planes, 3, 3), (planes * 4, planes, 1, 1)]
            if b == 0:
                shapes.append((planes * 4, inplanes, 1, 1))  # downsample
            inplanes = planes * 4
    shapes.append((1000, 2048))
    return shapes
