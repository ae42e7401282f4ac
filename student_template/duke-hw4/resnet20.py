"""ResNet-20 for CIFAR-10 with a fixed-point precision per stage (Lab 2 (b)-(e)).

    stem     3x3 conv 3 -> 16, BatchNorm, ReLU                       float
    stage1   3 basic blocks, 16 channels, 32 x 32                    Nbits1
    stage2   3 basic blocks, 32 channels, 16 x 16 (first stride 2)   Nbits2
    stage3   3 basic blocks, 64 channels,  8 x  8 (first stride 2)   Nbits3
    head     global average pooling, fully connected 64 -> 10        float

A basic block is relu(bn(conv3x3(relu(bn(conv3x3(x))))) + shortcut(x)). Its shortcut is x
itself, except in the first block of stages 2 and 3, where the channels double and the image
halves: there it is a 1x1 conv with stride 2 (at the stage's precision) and a BatchNorm.
Nbits = None keeps a stage in floating point. Input (N, 3, 32, 32), output logits (N, 10).
"""

import torch.nn as nn
import torch.nn.functional as F

from FP_layers import FP_Conv, FP_Linear


class BasicBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride, Nbits):
        super().__init__()
        self.conv1 = FP_Conv(in_channels, out_channels, 3, stride, padding=1, Nbits=Nbits)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = FP_Conv(out_channels, out_channels, 3, 1, padding=1, Nbits=Nbits)
        self.bn2 = nn.BatchNorm2d(out_channels)
        if stride == 1 and in_channels == out_channels:
            self.shortcut = nn.Identity()
        else:
            self.shortcut = nn.Sequential(
                FP_Conv(in_channels, out_channels, 1, stride, Nbits=Nbits),
                nn.BatchNorm2d(out_channels))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet20(nn.Module):
    def __init__(self, Nbits1=None, Nbits2=None, Nbits3=None):
        super().__init__()
        self.stem = nn.Sequential(FP_Conv(3, 16, 3, padding=1, Nbits=None), nn.BatchNorm2d(16),
                                  nn.ReLU())
        self.stage1 = self._stage(16, 16, 1, Nbits1)
        self.stage2 = self._stage(16, 32, 2, Nbits2)
        self.stage3 = self._stage(32, 64, 2, Nbits3)
        self.fc = FP_Linear(64, 10, Nbits=None)

    @staticmethod
    def _stage(in_channels, out_channels, stride, Nbits):
        return nn.Sequential(BasicBlock(in_channels, out_channels, stride, Nbits),
                             BasicBlock(out_channels, out_channels, 1, Nbits),
                             BasicBlock(out_channels, out_channels, 1, Nbits))

    def forward(self, x):
        x = self.stage3(self.stage2(self.stage1(self.stem(x))))
        return self.fc(x.mean(dim=(2, 3)))


def resnet20(Nbits1=None, Nbits2=None, Nbits3=None):
    """ResNet-20 with stages 1, 2 and 3 at Nbits1, Nbits2 and Nbits3 bits (None: float)."""
    return ResNet20(Nbits1, Nbits2, Nbits3)
