#!/usr/bin/env python3
"""Writes Tests/Fixtures/pytorch_architectures.json: for every file in architectures/, the PyTorch
reference model's state_dict names and shapes, parameter count and MACs at given input sizes.

The torchvision variants come from torchvision itself; the course variants (googlenet.yaml,
alexnet-half.yaml, lenet.yaml) are the course's PyTorch code, reproduced below as written in
shared/seeds. MACs count conv and linear multiply-accumulates in an eval-mode forward (so aux
heads are excluded), torchvision's convention.

Usage: pip install torch==2.13.0+cpu torchvision==0.28.0 pillow
       python3 scripts/reference/architecture_fixtures.py > Tests/Fixtures/pytorch_architectures.json
"""
import json
import sys

import torch
import torch.library
import torch.nn as nn
import torch.nn.functional as F

# torchvision's PyPI wheel registers C++ ops built for another torch; only the Python model
# definitions are needed here.
torch.library.register_fake = lambda *a, **k: (lambda f: f)
import torchvision  # noqa: E402
from torchvision.models.vision_transformer import VisionTransformer  # noqa: E402
from torchvision.models.swin_transformer import ShiftedWindowAttention, SwinTransformer  # noqa: E402
from torchvision.models.mobilenetv3 import MobileNetV3, _mobilenet_v3_conf as mobilenet_v3_conf  # noqa: E402


# --- the course's models (shared/seeds) -------------------------------------------------------
class LeNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 5)
        self.pool1 = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(16, 32, 5)
        self.pool2 = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(32 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        x = self.pool1(F.relu(self.conv1(x)))
        x = self.pool2(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class AlexNetHalf(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 48, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(48, 128, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(128, 192, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(192, 192, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(192, 128, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2))
        self.classifier = nn.Sequential(
            nn.Dropout(p=0.5), nn.Linear(128 * 6 * 6, 2048), nn.ReLU(inplace=True),
            nn.Dropout(p=0.5), nn.Linear(2048, 2048), nn.ReLU(inplace=True),
            nn.Linear(2048, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), start_dim=1))


class BasicConv2d(nn.Module):
    def __init__(self, in_channels, out_channels, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, **kwargs)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.conv(x))


class Inception(nn.Module):
    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(BasicConv2d(in_channels, ch3x3red, kernel_size=1),
                                     BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(in_channels, ch5x5red, kernel_size=1),
                                     BasicConv2d(ch5x5red, ch5x5, kernel_size=5, padding=2))
        self.branch4 = nn.Sequential(nn.MaxPool2d(kernel_size=3, stride=1, padding=1),
                                     BasicConv2d(in_channels, pool_proj, kernel_size=1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    def __init__(self, in_channels, num_classes):
        super().__init__()
        self.averagePool = nn.AvgPool2d(kernel_size=5, stride=3)
        self.conv = BasicConv2d(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, x):
        x = torch.flatten(self.conv(self.averagePool(x)), 1)
        x = F.dropout(x, 0.5, training=self.training)
        x = F.relu(self.fc1(x), inplace=True)
        x = F.dropout(x, 0.5, training=self.training)
        return self.fc2(x)


class GoogLeNet(nn.Module):
    def __init__(self, num_classes=1000, aux_logits=True):
        super().__init__()
        self.aux_logits = aux_logits
        self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes)
            self.aux2 = InceptionAux(528, num_classes)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(0.4)
        self.fc = nn.Linear(1024, num_classes)

    def forward(self, x):
        x = self.maxpool2(self.conv3(self.conv2(self.maxpool1(self.conv1(x)))))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        if self.training and self.aux_logits:
            aux1 = self.aux1(x)
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        if self.training and self.aux_logits:
            aux2 = self.aux2(x)
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))
        if self.training and self.aux_logits:
            return x, aux2, aux1
        return x


# --- measurement --------------------------------------------------------------------------------
def macs_of(model, shape):
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            c_in = module.in_channels // module.groups
            total += output.numel() * c_in * module.kernel_size[0] * module.kernel_size[1]
        elif isinstance(module, nn.Linear):
            total += output.numel() * module.in_features
        elif isinstance(module, nn.MultiheadAttention):
            # its projections run as F.linear inside, not as modules: torchvision's _ops counts the
            # input and output projections and the attention products QK^T and PV, per sample
            _, tokens, dim = inputs[0].shape
            total += tokens * dim * 3 * dim + tokens * dim * dim + 2 * tokens * tokens * dim
        elif isinstance(module, ShiftedWindowAttention):
            # its qkv and proj run as F.linear on their weights, not as modules: torchvision's _ops
            # counts them and the attention products QK^T and PV within each window of the (padded) map
            _, height, width, dim = inputs[0].shape
            wh, ww = module.window_size
            padded = (height + (wh - height % wh) % wh) * (width + (ww - width % ww) % ww)
            total += padded * 4 * dim * dim + 2 * padded * wh * ww * dim

    kinds = (nn.Conv2d, nn.Linear, nn.MultiheadAttention, ShiftedWindowAttention)
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, kinds)]
    model.eval()
    with torch.no_grad():
        out = model(torch.zeros(1, *shape))
    for h in handles:
        h.remove()
    return total, list(out.shape[1:])


def describe(model, shape, settings):
    macs, output = macs_of(model, shape)
    state = [[k, list(v.shape)] for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")]
    return {"input": list(shape), "set": settings, "total_params": sum(p.numel() for p in model.parameters()),
            "macs": macs, "output": output, "state_dict": state}


tv = torchvision.models
CASES = [
    # (architecture file, --set overrides, constructor, input shapes)
    ("lenet", {}, lambda: LeNet(), [(3, 32, 32)]),
    ("alexnet", {}, lambda: tv.alexnet(), [(3, 224, 224), (3, 96, 96)]),
    ("alexnet-half", {}, lambda: AlexNetHalf(), [(3, 224, 224)]),
    ("googlenet", {}, lambda: GoogLeNet(), [(3, 224, 224)]),
    ("googlenet", {"aux_logits": "false"}, lambda: GoogLeNet(aux_logits=False), [(3, 224, 224)]),
    ("googlenet-torchvision", {}, lambda: tv.googlenet(aux_logits=True, init_weights=False), [(3, 224, 224), (3, 96, 96)]),
    ("googlenet-torchvision", {"aux_logits": "false"},
     lambda: tv.googlenet(aux_logits=False, init_weights=False), [(3, 224, 224), (1, 96, 96)]),
]
for depth in (11, 13, 16, 19):
    CASES.append((f"vgg{depth}", {}, getattr(tv, f"vgg{depth}"), [(3, 224, 224), (3, 32, 32)]))
    CASES.append((f"vgg{depth}-bn", {}, getattr(tv, f"vgg{depth}_bn"), [(3, 224, 224)]))
for depth in (18, 34, 50, 101, 152):
    CASES.append((f"resnet{depth}", {}, getattr(tv, f"resnet{depth}"), [(3, 224, 224), (3, 64, 64)]))
# the modern convnets (torchvision's definitions; widths and depths by parameter where the file has them)
CASES += [
    ("resnext50-32x4d", {}, tv.resnext50_32x4d, [(3, 224, 224), (3, 64, 64)]),
    ("mobilenet-v2", {}, tv.mobilenet_v2, [(3, 224, 224), (3, 64, 64)]),
    ("mobilenet-v2", {"width_mult": "0.35"}, lambda: tv.mobilenet_v2(width_mult=0.35), [(3, 224, 224)]),
    ("mobilenet-v2", {"width_mult": "1.4"}, lambda: tv.mobilenet_v2(width_mult=1.4), [(3, 224, 224)]),
    ("mobilenet-v3-large", {}, tv.mobilenet_v3_large, [(3, 224, 224), (3, 64, 64)]),
    ("mobilenet-v3-small", {}, tv.mobilenet_v3_small, [(3, 224, 224), (3, 64, 64)]),
    ("mobilenet-v3-small", {"width_mult": "0.75"},
     lambda: MobileNetV3(*mobilenet_v3_conf("mobilenet_v3_small", width_mult=0.75)), [(3, 224, 224)]),
    ("efficientnet-b0", {}, tv.efficientnet_b0, [(3, 224, 224), (3, 64, 64)]),
    ("efficientnet-b0", {"width_mult": "1.1", "depth_mult": "1.2", "dropout": "0.3"}, tv.efficientnet_b2, [(3, 260, 260)]),
    ("efficientnet-b0", {"width_mult": "1.8", "depth_mult": "2.6", "dropout": "0.5", "bn_eps": "0.001"}, tv.efficientnet_b6, [(3, 528, 528)]),
    ("regnet-y-400mf", {}, tv.regnet_y_400mf, [(3, 224, 224), (3, 64, 64)]),
    ("regnet-y-400mf", {"depth": "14", "w_0": "56", "w_a": "38.84", "w_m": "2.4", "group_width": "16"},
     tv.regnet_y_800mf, [(3, 224, 224)]),
    ("regnet-y-400mf", {"depth": "22", "w_0": "24", "w_a": "24.48", "w_m": "2.54", "group_width": "16", "se_ratio": "0"},
     tv.regnet_x_400mf, [(3, 224, 224)]),
    ("shufflenet-v2-x1.0", {}, tv.shufflenet_v2_x1_0, [(3, 224, 224), (3, 64, 64)]),
    ("shufflenet-v2-x1.0", {"widths": "[24, 48, 96, 192, 1024]"}, tv.shufflenet_v2_x0_5, [(3, 224, 224)]),
    ("shufflenet-v2-x1.0", {"widths": "[24, 244, 488, 976, 2048]"}, tv.shufflenet_v2_x2_0, [(3, 224, 224)]),
    ("densenet121", {}, tv.densenet121, [(3, 224, 224), (3, 64, 64)]),
    ("densenet121", {"block_config": "[6, 12, 32, 32]"}, tv.densenet169, [(3, 224, 224)]),
    ("densenet121", {"growth_rate": "48", "block_config": "[6, 12, 36, 24]", "num_init_features": "96"}, tv.densenet161, [(3, 224, 224)]),
    ("convnext-tiny", {}, tv.convnext_tiny, [(3, 224, 224), (3, 64, 64)]),
    ("convnext-tiny", {"widths": "[128, 256, 512, 1024]", "depths": "[3, 3, 27, 3]"}, tv.convnext_base, [(3, 224, 224)]),
    ("vit-b-16", {}, tv.vit_b_16, [(3, 224, 224)]),
    ("vit-b-16", {}, lambda: tv.vit_b_16(image_size=64), [(3, 64, 64)]),
    ("vit-b-16", {"patch_size": "32"}, tv.vit_b_32, [(3, 224, 224)]),
    ("vit-b-16", {"hidden_dim": "1024", "num_layers": "24", "num_heads": "16", "mlp_dim": "4096"}, tv.vit_l_16, [(3, 224, 224)]),
    ("vit-small-fmnist", {}, lambda: VisionTransformer(image_size=28, patch_size=4, num_layers=6, num_heads=3, hidden_dim=192,
                                                       mlp_dim=768, num_classes=10), [(1, 28, 28)]),
    ("swin-t", {}, tv.swin_t, [(3, 224, 224)]),
    ("swin-t", {"window_size": "2"}, lambda: SwinTransformer(patch_size=[4, 4], embed_dim=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24],
                                                                   window_size=[2, 2], stochastic_depth_prob=0.2), [(3, 64, 64)]),
    ("swin-t", {"depths": "[2, 2, 18, 2]"}, tv.swin_s, [(3, 224, 224)]),
    ("swin-t", {"embed_dim": "128", "depths": "[2, 2, 18, 2]", "num_heads": "[4, 8, 16, 32]"}, tv.swin_b, [(3, 224, 224)]),
]


def main():
    torch.manual_seed(0)
    fixtures = []
    for name, settings, make, shapes in CASES:
        model = make()
        for shape in shapes:
            if shape[0] != 3 and hasattr(model, "conv_proj"):
                first = model.conv_proj
                model.conv_proj = nn.Conv2d(shape[0], first.out_channels, first.kernel_size, first.stride)
            elif shape[0] != 3:
                first = model.conv1.conv
                model.conv1.conv = nn.Conv2d(shape[0], first.out_channels, first.kernel_size, first.stride,
                                             first.padding, bias=first.bias is not None)
            entry = describe(model, shape, settings)
            entry["architecture"] = name
            fixtures.append(entry)
            print(f"{name} {settings} {shape}: {entry['total_params']} params, {entry['macs']} MACs", file=sys.stderr)
    json.dump({"generator": "scripts/reference/architecture_fixtures.py", "torch": torch.__version__,
               "torchvision": torchvision.__version__, "cases": fixtures}, sys.stdout, indent=None, separators=(",", ":"))
    print()


if __name__ == "__main__":
    main()
