"""Do the demo's CheXpert images show the latent factors the labels are made from?

    python benchmarks/demo_chexpert_visibility.py [--size 48] [--n 4000]

Draws ``--n`` images with the demo generator (``qmtl_utils.data.chexpert._demo_images``) at the
demo's 48 px and fits a ridge regression from the raw pixels to each of the four factors (heart,
fluid, opacity, collapse) on 75 % of them; prints the held-out R² per factor. A linear read-out of
the pixels is a lower bound on what the image shows.
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.linear_model import RidgeCV

from qmtl_utils.data import chexpert


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--n", type=int, default=4000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    factors = rng.standard_normal((args.n, len(chexpert._FACTORS)))
    scores = factors @ chexpert._MIXING.T
    edema = scores[:, chexpert.TASK_COLUMNS.index("Edema")]
    pixels = chexpert._demo_images(factors, edema, args.size, rng).reshape(args.n, -1) / 255.0
    fit = int(0.75 * args.n)
    for i, name in enumerate(chexpert._FACTORS):
        model = RidgeCV(alphas=[0.1, 1.0, 10.0, 100.0]).fit(pixels[:fit], factors[:fit, i])
        print(
            f"{name:<9} held-out R² of a linear read-out of the {args.size}-px pixels: "
            f"{model.score(pixels[fit:], factors[fit:, i]):.3f}"
        )


if __name__ == "__main__":
    main()
