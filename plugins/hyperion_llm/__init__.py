"""Bundled LLM strategies: llm_agent and llm_branching_agent (any callable, or litellm by model name)."""

from hyperion_core.hookspecs import Register, hookimpl


@hookimpl
def register_strategies(register: Register) -> None:
    from hyperion_llm.agent import LLMAgent
    from hyperion_llm.branching import LLMBranchingAgent

    register("llm_agent", LLMAgent)
    register("llm_branching_agent", LLMBranchingAgent)
