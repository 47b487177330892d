"""Learned-env throughput: OffSim-v0 as a VectorEnv with 1, 64 and 1024 envs against one real
Hopper-v5 env, in the same run, random actions. Reports transitions per second and the ratio to
the real env. The learned env uses the paper-preset architecture (weights from a short fit: speed
does not depend on them). `--compile` times each learned env again with its step's tensor work under
torch.compile (`compile=True`, what `policy.compile` turns on; its compile, in a warm-up, left out).

    python bench/env_throughput.py [--data-root ../shared/datasets] [--seconds 3] [--compile] [--preset paper]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import gymnasium as gym
import torch

import offsim_ray  # noqa: F401  (registers OffSim-v0)
import common
from offsim_ray.simulator import fit_simulator, preset


def steps_per_second(env, num_envs: int, seconds: float) -> float:
    env.reset(seed=0)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(64)]
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        _, _, terminated, truncated, _ = env.step(actions[n % 64])
        if num_envs == 0 and (terminated or truncated):  # a plain env resets by hand
            env.reset()
        n += 1
    return n * max(num_envs, 1) / (time.perf_counter() - started)


def main() -> None:
    parser = common.parser(__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--compile", action="store_true", help="also time each learned env compiled, after it")
    parser.add_argument("--preset", default="paper", help="simulator preset whose networks are timed")
    args = parser.parse_args()
    _, data = common.transitions(args)
    simulator, history = fit_simulator(data, preset(args.preset).with_(warmup_steps=20, steps=0), progress=False)
    artifact = simulator.save(Path(tempfile.mkdtemp()) / "sim", history)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")

    real = steps_per_second(gym.make("Hopper-v5"), 0, args.seconds)
    print("| env | transitions/s | ratio to one real Hopper-v5 |")
    print("|---|---|---|")
    print(f"| real Hopper-v5 (1 env) | {real:,.0f} | 1.00 |", flush=True)
    for variance in ("high", "low"):
        for n in (1, 64, 1024):
            for compile in (False, True)[:1 + args.compile]:
                env = gym.make_vec("OffSim-v0", num_envs=n, vectorization_mode="vector_entry_point",
                                   artifact=artifact, variance=variance, compile=compile)
                if compile:  # the first steps compile
                    env.reset(seed=0)
                    for _ in range(3):
                        env.step(env.action_space.sample())
                rate = steps_per_second(env, n, args.seconds)
                name = f"{n} envs, {variance} variance"
                if compile:
                    name += f", compiled ({rate / eager:.2f} of eager)"
                print(f"| OffSim-v0 vector, {name} | {rate:,.0f} | {rate / real:.2f} |", flush=True)
                eager = rate


if __name__ == "__main__":
    main()
