"""Policy-stage throughput: our RLlib SAC in OffSim-v0 against a minimal plain-torch SAC update loop
with the same networks (4-layer MLPs, width 256), batch size and replay sampling, in the same run.
Reports gradient updates per second, learned-env steps per second and the ratio to two yardsticks: the
plain SAC update alone, and the same loop doing the stage's whole work (eq. (9)'s likelihood term on a
batch of expert pairs, and one step of the 64 learned envs per 4 updates, written to the replay).

    python bench/policy_throughput.py [--data-root ../shared/datasets] [--iterations 3|0] [--profile] [--ops]
                                      [--precision fp32 bf16] [--compile] [--update-variants] [--device cuda]

`--ops` records the timed iterations with torch's profiler and prints the share of CPU time in matrix
multiplies, their FLOPs per update, and the floor those FLOPs set at the rate of a plain 256-wide GEMM on
this machine (the physical limit of the update on a core, where it is FLOP-bound). `--precision fp32 bf16`
times the RLlib stage in each `policy.precision`, one after the other in the same run; `--compile` times each
again with `policy.compile` (the learner's whole update and the learned env's step under torch.compile; its
compile, in the warm-up iterations, is left out). `--device cuda` runs the stage, the yardsticks and the update
variants on a GPU. `--update-variants`
times the stage's SAC losses on random batches, one backward pass and `ActorCritic`'s fused Adam step (no
Polyak step), in float32, with bfloat16 matrix multiplies, and with the losses under torch.compile, and a
plain 256-wide GEMM in float32 and bfloat16 (whether this CPU multiplies bfloat16 in hardware).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile as profiler_ops

import common
from offsim_ray.envs.offsim_env import OffSimVectorEnv
from offsim_ray.policy import PolicyConfig, preset as policy_preset
from offsim_ray.policy.actor_critic import actor_objective, td_critic_loss
from offsim_ray.policy.baselines.offline import ActorCritic
from offsim_ray.nets import mlp
from offsim_ray.policy.regulariser import normalise_actions
from offsim_ray.simulator import fit_simulator, preset as sim_preset


def synchronise(device: str) -> None:
    """Waits for a GPU's queued kernels, so a timing ends when its work does."""
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def yardstick_updates_per_second(config: PolicyConfig, obs_dim: int, act_dim: int, seconds: float,
                                 artifact: str | None = None) -> float:
    """SAC (Haarnoja et al. 2018, twin critics, learned temperature): nothing but the update; with the
    simulator `artifact`, also eq. (9) on its data's pairs and its learned envs stepped into the replay; the
    networks and each batch on `config.device`, the replay in host memory as the stage's is."""
    device = config.device
    actor = mlp(obs_dim, 2 * act_dim, config.hiddens).to(device)
    critics = [mlp(obs_dim + act_dim, 1, config.hiddens).to(device) for _ in range(2)]
    targets = [mlp(obs_dim + act_dim, 1, config.hiddens).to(device) for _ in range(2)]
    for critic, target in zip(critics, targets):
        target.load_state_dict(critic.state_dict())
    log_alpha = torch.zeros(1, requires_grad=True, device=device)
    actor_opt = torch.optim.Adam(actor.parameters(), config.actor_lr, fused=True)
    critic_opt = torch.optim.Adam([p for c in critics for p in c.parameters()], config.critic_lr, fused=True)
    alpha_opt = torch.optim.Adam([log_alpha], config.actor_lr, fused=True)
    rng = np.random.default_rng(0)
    size = 100_000
    replay = {"obs": rng.normal(size=(size, obs_dim)).astype(np.float32),
              "act": rng.uniform(-1, 1, (size, act_dim)).astype(np.float32),
              "rew": rng.normal(size=size).astype(np.float32),
              "next": rng.normal(size=(size, obs_dim)).astype(np.float32),
              "done": np.zeros(size, np.float32)}

    env = expert = None
    if artifact is not None:
        env = OffSimVectorEnv(config.num_envs, artifact, horizon=config.horizon, variance=config.variance,
                              termination=config.termination, reward_on_mean=config.reward_on_mean, reward_shift=config.reward_shift,
                              start_states=config.start_states)
        env_obs = env.reset(seed=0)[0]
        data = env.dynamics.simulator.data
        space = env.single_action_space
        expert = (data.obs.astype(np.float32),
                  normalise_actions(data.action, space.low, space.high, config.action_clip))
        write = 0

    def gaussian(obs):
        mean, log_std = actor(obs).chunk(2, -1)
        return torch.distributions.Normal(mean, log_std.clamp(-20, 2).exp())

    def squashed_logp(dist, u, action):
        return (dist.log_prob(u) - torch.log(1 - action.pow(2) + 1e-6)).sum(-1)

    def policy(obs):
        dist = gaussian(obs)
        u = dist.rsample()
        action = torch.tanh(u)
        return action, squashed_logp(dist, u, action)

    def q(nets, obs, action):
        x = torch.cat([obs, action], -1)
        return torch.min(*(net(x).squeeze(-1) for net in nets))

    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        if env is not None and n % config.updates_per_sample == 0:
            with torch.no_grad():
                action = policy(torch.from_numpy(env_obs).to(device))[0].cpu().numpy()
            next_obs, reward, terminated, _, _ = env.step(action)
            rows = (write + np.arange(len(action))) % size
            for key, value in (("obs", env_obs), ("act", action), ("rew", reward), ("next", next_obs),
                               ("done", terminated)):
                replay[key][rows] = value
            write, env_obs = write + len(action), next_obs
        index = rng.integers(0, size, config.batch_size)
        s, a, r, s2, d = (torch.from_numpy(replay[k][index]).to(device) for k in ("obs", "act", "rew", "next", "done"))
        alpha = log_alpha.exp().detach()
        with torch.no_grad():
            a2, logp2 = policy(s2)
            target = r + config.gamma * (1 - d) * (q(targets, s2, a2) - alpha * logp2)
        x = torch.cat([s, a], -1)
        critic_loss = sum((c(x).squeeze(-1) - target).pow(2).mean() for c in critics)
        critic_opt.zero_grad()
        critic_loss.backward()
        critic_opt.step()
        new_a, logp = policy(s)
        actor_loss = (alpha * logp - q(critics, s, new_a)).mean()
        if expert is not None:
            pairs = rng.integers(0, len(expert[0]), config.batch_size)
            a_e = torch.from_numpy(expert[1][pairs]).to(device)
            logp_e = squashed_logp(gaussian(torch.from_numpy(expert[0][pairs]).to(device)), torch.atanh(a_e), a_e)
            actor_loss = actor_loss - config.regulariser * logp_e.mean()
        actor_opt.zero_grad()
        actor_loss.backward()
        actor_opt.step()
        alpha_loss = -(log_alpha * (logp.detach() - act_dim)).mean()
        alpha_opt.zero_grad()
        alpha_loss.backward()
        alpha_opt.step()
        with torch.no_grad():
            for critic, target in zip(critics, targets):
                for p, tp in zip(critic.parameters(), target.parameters()):
                    tp.lerp_(p, config.tau)
        n += 1
    synchronise(device)
    return n / (time.perf_counter() - started)


def update_variant_rates(config: PolicyConfig, obs_dim: int, act_dim: int, seconds: float) -> dict[str, float]:
    """Updates/s of the stage's SAC losses, one backward pass and `ActorCritic`'s fused Adam step (no Polyak
    step) on random batches: float32, bfloat16 matrix multiplies, float32 losses under torch.compile (its
    compile time, in the warm-up, is left out)."""
    config = config.with_(regulariser=0.0)
    bound = np.ones(act_dim, np.float32)
    rates = {}
    for name in ("float32", "bfloat16", "torch.compile"):
        torch.manual_seed(0)
        actor_critic = ActorCritic(config.with_(precision="bf16" if name == "bfloat16" else "fp32"),
                                   obs_dim, -bound, bound)
        module = actor_critic.module

        def losses(obs, actions, rewards, next_obs, done):
            critic_loss, _ = td_critic_loss(module, obs, actions, rewards, next_obs, done, config.gamma)
            actor_loss, alpha_loss, _ = actor_objective(module, obs, module.actor(obs), config.learn_alpha,
                                                        config.q_weight)
            return critic_loss + actor_loss + alpha_loss

        loss_of = torch.compile(losses) if name == "torch.compile" else losses

        def update():
            b, device = config.batch_size, config.device
            loss = loss_of(torch.randn(b, obs_dim, device=device), torch.rand(b, act_dim, device=device) * 2 - 1,
                           torch.randn(b, device=device), torch.randn(b, obs_dim, device=device),
                           torch.zeros(b, device=device))
            actor_critic.optimiser.zero_grad()
            loss.backward()
            actor_critic.optimiser.step()

        for _ in range(10):  # warm-up, and the compile
            update()
        n, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            update()
            n += 1
        synchronise(config.device)
        rates[name] = n / (time.perf_counter() - started)
    return rates


MATMULS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm")


def gemm_flops_per_second(width: int, batch: int, seconds: float = 2.0, dtype=torch.float32) -> float:
    """FLOP/s of a plain (batch, width) x (width, width) matrix multiply, the update's commonest shape."""
    a, w = torch.randn(batch, width, dtype=dtype), torch.randn(width, width, dtype=dtype)
    for _ in range(20):
        a @ w
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        a @ w
        n += 1
    return 2 * batch * width * width * n / (time.perf_counter() - started)


def print_matmul_floor(events, updates: int, config: PolicyConfig) -> None:
    """The share of the profiled CPU time in matrix multiplies and the update rate their FLOPs allow."""
    total = sum(e.self_cpu_time_total for e in events) / 1e6
    matmul = [e for e in events if e.key in MATMULS]
    seconds = sum(e.self_cpu_time_total for e in matmul) / 1e6
    flops = sum(e.flops for e in matmul)
    gemm = gemm_flops_per_second(config.hidden, config.batch_size)
    print(f"profiled CPU time {total:.2f} s for {updates} updates; matrix multiplies {seconds:.2f} s "
          f"({seconds / total:.0%}), {flops / updates / 1e9:.2f} GFLOP per update at {flops / seconds / 1e9:.0f} GFLOP/s")
    print(f"a plain {config.batch_size}x{config.hidden} GEMM here: {gemm / 1e9:.0f} GFLOP/s; the update's FLOPs at "
          f"that rate allow {gemm * updates / flops:.1f} updates/s at most")


def rllib_throughput(config: PolicyConfig, artifact: str, iterations: int, profile: bool,
                     ops: bool = False) -> tuple[float, float]:
    """(updates/s, env steps/s) of our RLlib SAC over `iterations` iterations after a warm-up one (two with
    `compile`: the first update compiles)."""
    import ray

    from offsim_ray.policy.rllib.algorithm import build_algorithm

    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    algo = build_algorithm(config, artifact)
    for _ in range(2 if config.compile else 1):
        algo.train()  # fills the replay with `learning_starts` random steps; compiled, the next one compiles
    steps_before = algo.replay.added
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    recorder = profiler_ops(activities=[ProfilerActivity.CPU], with_flops=True) if ops else contextlib.nullcontext()
    with recorder:
        started = time.perf_counter()
        for _ in range(iterations):
            algo.train()
        seconds = time.perf_counter() - started
    if ops:
        print_matmul_floor(recorder.key_averages(), iterations * config.updates_per_iteration, config)
    if profiler is not None:
        import pstats

        profiler.disable()
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(r"offpolicy|learner\.py.*update|sync_weights|metrics_logger.*reduce")
    steps = algo.replay.added - steps_before
    algo.stop()
    ray.shutdown()
    return iterations * config.updates_per_iteration / seconds, steps / seconds


def main() -> None:
    parser = common.parser(__doc__)
    parser.add_argument("--iterations", type=int, default=3,
                        help="timed RLlib iterations (0: the stage is not timed, the yardsticks only)")
    parser.add_argument("--preset", default="quick", help="policy preset whose sizes are measured")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the timed RLlib iterations")
    parser.add_argument("--ops", action="store_true", help="print the timed iterations' matrix-multiply share and floor")
    parser.add_argument("--precision", nargs="+", default=["fp32"], choices=["fp32", "bf16"],
                        help="policy.precision values whose RLlib stage is timed, in this order")
    parser.add_argument("--compile", action="store_true",
                        help="also time the RLlib stage of each precision with policy.compile, after it")
    parser.add_argument("--device", default="cpu", help="torch device of every timed update (cuda: a GPU)")
    parser.add_argument("--update-variants", action="store_true",
                        help="also time the SAC update in float32, bfloat16 and under torch.compile")
    args = parser.parse_args()
    _, data = common.transitions(args)
    config = policy_preset(args.preset).with_(algo="sac", learn_alpha=True,  # the same work as the yardstick
                                              device=args.device)
    simulator, _ = fit_simulator(data, sim_preset("quick").with_(warmup_steps=50, steps=50), progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        simulator.save(f"{tmp}/sim")
        stage = {(precision, compiled): rllib_throughput(config.with_(precision=precision, compile=compiled),
                                                         f"{tmp}/sim", args.iterations, args.profile, args.ops)
                 for precision in args.precision for compiled in (False, True)[:1 + args.compile]
                 if args.iterations}
        yardstick = yardstick_updates_per_second(config, data.obs_dim, data.action_dim, seconds=20.0)
        same_work = yardstick_updates_per_second(config, data.obs_dim, data.action_dim, 20.0, f"{tmp}/sim")
    print(f"machine: {os.cpu_count()} CPU cores{common.device_label(args.device)}, "
          f"torch threads {torch.get_num_threads()}, networks {config.layers} layers x {config.hidden}, "
          f"batch {config.batch_size}")
    print(f"plain-torch SAC updates/s      {yardstick:8.1f}")
    print(f"plain-torch, same work         {same_work:8.1f}   (eq. (9) and the learned envs)")
    for (precision, compiled), (updates, env_steps) in stage.items():
        name = precision + (", compiled" if compiled else "")
        of_eager = f", {updates / stage[precision, False][0]:.2f} of eager" if compiled else ""
        print(f"RLlib SAC (ours, {name}) updates/s {updates:8.1f}   ratio {updates / yardstick:.2f}, "
              f"{updates / same_work:.2f} of the same work{of_eager}")
        print(f"  learned-env steps/s           {env_steps:8.1f}   ({config.num_envs} envs, "
              f"{config.updates_per_sample} updates per vector step)")
    if args.update_variants:
        rates = update_variant_rates(config, data.obs_dim, data.action_dim, seconds=20.0)
        for name, rate in rates.items():
            print(f"SAC update, {name:13s} updates/s {rate:8.1f}   ratio {rate / rates['float32']:.2f}")
        gemm = {dtype: gemm_flops_per_second(config.hidden, config.batch_size, dtype=dtype)
                for dtype in (torch.float32, torch.bfloat16)}
        print(f"a plain {config.batch_size}x{config.hidden} GEMM: float32 {gemm[torch.float32] / 1e9:.1f} GFLOP/s, "
              f"bfloat16 {gemm[torch.bfloat16] / 1e9:.1f} (ratio {gemm[torch.bfloat16] / gemm[torch.float32]:.2f})")


if __name__ == "__main__":
    main()
