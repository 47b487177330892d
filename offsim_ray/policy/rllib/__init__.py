"""The RLlib algorithms trained inside the learned simulator (SAC, DDPG, PPO), their learners and the
training loop: the only place that imports RLlib's Algorithm API."""
