export { Module } from './module.js';
export { Linear, Conv2d, BatchNorm2d, ReLU, Flatten, MaxPool2d, AvgPool2d, Dropout, Sequential, type LayerInit } from './layers.js';
export { kaimingNormal, kaimingUniform, xavierUniform, biasUniform, fans } from './init.js';
export { mlp, vgg, lenet5, buildModel, type ModelName, type ModelSpec } from './models.js';
