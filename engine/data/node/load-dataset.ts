/** One entry point that loads any supported dataset by name, for the CLI and the benchmarks. */
import type { ImageDataset } from '../dataset.js';
import type { Cifar100LabelKind } from '../cifar.js';
import { loadCifar10, loadCifar100 } from './cifar.js';
import { loadGtsrb } from './gtsrb.js';
import { loadImageFolder } from './image-folder.js';
import type { DatasetName } from './missing.js';
import { loadFashionMnist, loadMnist, type Split } from './mnist.js';
import { loadSvhn } from './svhn.js';

export const DATASET_NAMES: readonly DatasetName[] = ['mnist', 'fashion-mnist', 'cifar10', 'cifar100', 'svhn', 'gtsrb', 'folder'];

export interface LoadDatasetOptions {
  /** File or folder to read instead of the default location (required for "folder"). */
  path?: string;
  /** Output image size for datasets that are resized (gtsrb, folder). */
  size?: number;
  /** CIFAR-100 only: fine (100 classes, default) or coarse (20 superclasses). */
  label?: Cifar100LabelKind;
}

export async function loadDataset(name: string, split: Split, options: LoadDatasetOptions = {}): Promise<ImageDataset> {
  const { path, size, label } = options;
  switch (name as DatasetName) {
    case 'mnist':
      return loadMnist({ split, dir: path });
    case 'fashion-mnist':
      return loadFashionMnist({ split, dir: path });
    case 'cifar10':
      return loadCifar10({ split, path });
    case 'cifar100':
      return loadCifar100({ split, path, label });
    case 'svhn':
      return loadSvhn({ split, path });
    case 'gtsrb':
      return loadGtsrb({ split, path, size });
    case 'folder':
      if (path === undefined) throw new Error('dataset "folder" needs a path: a folder with one subfolder per class');
      return loadImageFolder({ split, path, width: size, height: size });
    default:
      throw new Error(`unknown dataset "${name}"; choose one of: ${DATASET_NAMES.join(', ')}`);
  }
}
