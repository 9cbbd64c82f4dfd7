"""LLM graphs, the ``llm_graph`` model kind: the chat model a recipe names (:mod:`.chat`), the
LangGraph graph around it (:mod:`.graph`) and the offline metrics of its answers (:mod:`.metrics`)."""
