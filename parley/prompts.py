"""Every prompt parley sends to a model or shows a human, in one place.

Prompts are data: agents read them from here, and users may pass their own instead.
"""

from __future__ import annotations

__all__ = [
    "ASSISTANT_SYSTEM_MESSAGE",
    "DEFAULT_SYSTEM_MESSAGE",
    "DOCKER_BACKGROUND_ENDS_NOTE",
    "DOCKER_BACKGROUND_KEPT_NOTE",
    "DOCKER_EXECUTOR_INSTRUCTIONS",
    "DOCKER_NETWORK_OFF_NOTE",
    "DOCKER_NETWORK_ON_NOTE",
    "GROUP_INTRODUCTION",
    "HUMAN_INPUT_ALWAYS",
    "HUMAN_INPUT_AUTO_REPLY_NOTICE",
    "HUMAN_INPUT_NO_INPUT",
    "HUMAN_INPUT_TERMINATE",
    "IMPROVE_CODE_PROMPT",
    "IMPROVE_FUNCTION_PROMPT",
    "IPYTHON_EXECUTOR_INSTRUCTIONS",
    "JUPYTER_EXECUTOR_INSTRUCTIONS",
    "LOCAL_EXECUTOR_INSTRUCTIONS",
    "NOTEBOOK_EXECUTOR_INSTRUCTIONS",
    "REFLECTION_SUMMARY_PROMPT",
    "RUN_STOPPED_STATE_LOST_NOTE",
    "SCRIPTED_MODEL_NOTICE",
    "SELECT_SPEAKER_MANUAL",
    "SELECT_SPEAKER_MESSAGE",
    "SELECT_SPEAKER_MULTIPLE",
    "SELECT_SPEAKER_NONE",
    "SELECT_SPEAKER_PROMPT",
]

DEFAULT_SYSTEM_MESSAGE = "You are a helpful AI assistant."

ASSISTANT_SYSTEM_MESSAGE = """You are a careful AI assistant who solves tasks by writing code that \
another agent runs for you and reports back on.

How to work:
- When a task needs facts you do not have, files, downloads, dates or computation, write code that \
gets or computes them, and let it print the result. Do not guess results that code can compute.
- Put each program in one fenced Markdown block tagged with its language: ```python for Python, \
```sh for shell commands. Each block must be complete and run as it is: the runner does not fill in \
anything, and it does not keep variables between blocks.
- To save a program under a name, make its first line `# filename: <name>`; otherwise do not name \
files.
- Send one block at a time unless the blocks are meant to run in order. You will get back the exit \
code and everything the code printed.
- If the code fails, read the error, fix the code and send the whole corrected block again. If a \
package is missing, send a shell block that installs it first.
- Check the output before you trust it. When the task is done and the output confirms it, give the \
answer in plain words and end your message with the word TERMINATE.
"""

REFLECTION_SUMMARY_PROMPT = (
    "Summarize the conversation above: state the task, the final answer or outcome, and any facts "
    "the reader needs to use it. Leave out greetings and the back-and-forth."
)

HUMAN_INPUT_ALWAYS = (
    "Replying as {name}. Give feedback to {sender}. Press enter to skip and use the auto-reply, "
    "or type 'exit' to end the conversation: "
)

HUMAN_INPUT_TERMINATE = (
    "Replying as {name}. Give feedback to {sender}. Press enter or type 'exit' to end the conversation: "
)

HUMAN_INPUT_NO_INPUT = ">>>>>>>> NO HUMAN INPUT RECEIVED."

HUMAN_INPUT_AUTO_REPLY_NOTICE = ">>>>>>>> USING AUTO REPLY..."

SCRIPTED_MODEL_NOTICE = (
    "No OPENAI_API_KEY is set: using parley's scripted demo model (set OPENAI_API_KEY, and "
    "optionally --base-url/--model, to use a real one)."
)

LOCAL_EXECUTOR_INSTRUCTIONS = """\
# How your code is run
Your code blocks run on the user's machine as separate processes, in the folder {work_dir}. \
Each block starts fresh: variables do not carry over between blocks, but files in that folder do.
- Languages: {languages}. Tag each block with its language; other blocks are not run.
- Python blocks run with {python}. Shell blocks run with bash.
- Each block may run for at most {timeout} seconds; after that it is stopped and you get what it \
printed so far with exit code 124.
- Output longer than {max_output_chars} characters is cut to its start and end; the full output \
is saved to a file in the folder, and its name is given.
- To keep a file, write it inside the folder; paths outside it are refused. Start a block with \
`# filename: name.py` to save it under that name.
- To install a Python package, run a shell block: `{python} -m pip install <package>`.
- Files your code writes (images, data) stay in the folder; print their paths to report them.
"""

DOCKER_EXECUTOR_INSTRUCTIONS = """\
# How your code is run
Your code blocks run inside a Docker container (image {image}), each as a separate process in the \
folder {mount}, which is shared with the user's machine. Each block starts fresh: variables do not \
carry over between blocks, but files in {mount} do.
- Languages: {languages}. Tag each block with its language; other blocks are not run.
- Python blocks run with the image's `python3`. Shell blocks run with bash (`sh` blocks with sh).
- Each block may run for at most {timeout} seconds; after that its processes are killed and you get \
what it printed so far with exit code 124.
- Limits: {limits}. A block killed for lack of memory ends with exit code 137 and a note saying so.
- {background}
- {network}
- Output longer than {max_output_chars} characters is cut to its start and end; the full output \
is saved to a file in {mount}, and its name is given.
- To keep a file, write it inside {mount}; paths outside it are refused. Start a block with \
`# filename: name.py` to save it under that name.
- Files your code writes in {mount} (images, data) reach the user; print their paths to report \
them. Anything written elsewhere in the container is lost when the container is restarted.
"""

DOCKER_BACKGROUND_ENDS_NOTE = (
    "Every process a block starts ends when the block ends, background ones (`&`, `nohup`) included: "
    "a server started in one block is not there in the next."
)

DOCKER_BACKGROUND_KEPT_NOTE = (
    "Background processes a block starts (`cmd >cmd.log 2>&1 &`, e.g. a server) keep running for the "
    "next blocks, until the container is restarted. Redirect their output to a file."
)

DOCKER_NETWORK_OFF_NOTE = (
    "There is no network: downloads and package installs (`pip install`, `apt-get`) fail. Use the "
    "Python standard library and what the image already has; if you need more, say what to install."
)

DOCKER_NETWORK_ON_NOTE = (
    "The network is on. To install a Python package, run a shell block: "
    "`python3 -m pip install --user <package>` (the image must have pip); it lasts until the "
    "container is restarted."
)

IPYTHON_EXECUTOR_INSTRUCTIONS = """\
# How your code is run
Your code blocks run in a Jupyter (IPython) kernel on the user's machine, like the cells of a \
notebook, in the folder {work_dir}. The kernel keeps its state: variables, imports and functions \
from earlier blocks are still there, so do not repeat setup that already ran.
- Languages: python (IPython syntax works, such as `%timeit` and `!ls`) and shell blocks (bash, sh), \
which run as a subprocess in that folder. Tag each block with its language; other blocks are not run.
- The value of a block's last expression is shown, as in a notebook. Errors come back as a traceback.
- Plots and other images (matplotlib figures, `display(...)`) and HTML are saved as files in \
{output_dir}; you get their paths, and the text of HTML and Markdown displays. Matplotlib figures \
come back without `plt.show()`.
- Each block may run for at most {timeout} seconds; then it is interrupted: you get what it printed \
so far with exit code 124, and the kernel keeps its state.
- If you are told the kernel died or was restarted, its state is gone: run your setup again.
- Output longer than {max_output_chars} characters is cut to its start and end; the full output \
is saved to a file in the folder, and its name is given, so your code can read the parts it needs.
- Processes your code starts in the background keep running until the kernel is restarted or ends.
- To install a Python package, run `%pip install <package>` in a python block, then import it.
- To keep a file, write it inside the folder; paths outside it are refused. Start a block with \
`# filename: name.py` to also save it under that name.
"""

JUPYTER_EXECUTOR_INSTRUCTIONS = """\
# How your code is run
Your code blocks run in a Jupyter (IPython) kernel on another machine, which the Jupyter server \
at {server} runs for the user, like the cells of a notebook. The kernel keeps its state: variables, \
imports and functions from earlier blocks are still there, so do not repeat setup that already ran.
- Languages: python (IPython syntax works, such as `%timeit` and `!ls`) and shell blocks (bash, sh), \
which run as a subprocess on that machine. Tag each block with its language; other blocks are not run.
- The value of a block's last expression is shown, as in a notebook. Errors come back as a traceback.
- Files your code reads and writes are on that machine, in the kernel's working directory, not on \
the user's machine. Start a block with `# filename: name.py` to also save it there under that name; \
paths outside that directory are refused.
- Plots and other images (matplotlib figures, `display(...)`) and HTML are sent back and saved as \
files in {output_dir} on the user's machine; you get their paths (and the text of HTML and \
Markdown displays), but your code cannot open them. \
Matplotlib figures come back without `plt.show()`.
- Each block may run for at most {timeout} seconds; then it is interrupted: you get what it printed \
so far with exit code 124, and the kernel keeps its state.
- If you are told the kernel died or was restarted, its state is gone: run your setup again.
- Output longer than {max_output_chars} characters is cut to its start and end; the full output \
is saved to a file in the kernel's working directory on that machine, and its name is given, so your \
code can read the parts it needs.
- Processes your code starts in the background keep running until the kernel is restarted or ends.
- To install a Python package on that machine, run `%pip install <package>` in a python block, then \
import it.
"""

NOTEBOOK_EXECUTOR_INSTRUCTIONS = """\
# How your code is run
Your code blocks run in the user's own Jupyter notebook, in the same kernel as the user's cells, \
whose current folder is {cwd}. Variables, imports and functions you define stay in the notebook: \
the user can use them in later cells, and you can use the user's.
- Languages: python (IPython syntax works, such as `%timeit`) and shell blocks (bash, sh), which \
run as a subprocess. Tag each block with its language; other blocks are not run.
- Your output is shown in the notebook as it happens, and you get it back. The value of a block's \
last expression is shown. Errors come back as a traceback.
- Plots and other images (matplotlib figures, `display(...)`) and HTML are shown to the user and \
saved as files in {output_dir}; you get their paths, and the text of HTML and Markdown displays.
- Each block may run for at most {timeout} seconds; then it is interrupted and you get what it \
printed so far with exit code 124.
- Output longer than {max_output_chars} characters is cut to its start and end; the full output \
is saved to a file in {work_dir}, and its name is given.
- To install a Python package, run `%pip install <package>` in a python block, then import it.
- Start a block with `# filename: name.py` to also save it in {work_dir}; paths outside it are \
refused.
- Do not overwrite the user's variables unless asked to; choose new names for your own.
"""

SELECT_SPEAKER_MESSAGE = """\
You coordinate a team that works on a task together. The team members are:
{roles}

Read the conversation that follows and decide who should speak next. Answer with exactly one \
name from {agentlist}."""

SELECT_SPEAKER_PROMPT = "Who should speak next? Answer with one name from {agentlist} and nothing else."

SELECT_SPEAKER_MULTIPLE = (
    "Your answer named more than one team member ({mentioned}). Answer with exactly one name from {agentlist}."
)

SELECT_SPEAKER_NONE = "Your answer named no team member. Answer with exactly one name from {agentlist}."

SELECT_SPEAKER_MANUAL = (
    "Choose the next speaker:\n{numbered}\nEnter a number (or press enter to let the group chat decide): "
)

GROUP_INTRODUCTION = """\
Hello everyone. This team was put together to solve tasks. The members are:

{roles}

Speak when you can help, and say what you did."""

IMPROVE_CODE_PROMPT = """\
Read the code in the files below and list concrete improvements{followup} that serve this \
objective: {objective}

{code}"""
"""`parley.code_utils.improve_code`'s request: ``{objective}``, ``{code}`` (each file's name and text),
``{followup}``."""

IMPROVE_FUNCTION_PROMPT = """\
Rewrite the function '{func_name}' so that it serves this objective: {objective}
It is in this file:

{file_string}"""
"""`parley.code_utils.improve_function`'s request: ``{func_name}``, ``{objective}``, ``{file_string}``."""

RUN_STOPPED_STATE_LOST_NOTE = (
    "Note: the previous run was stopped while this executor ran code it could not cancel, so the executor "
    "was closed and a new one started. All state was lost: variables, imports and files in memory are gone; "
    "run any setup code again.\n"
)
"""Put before the next result of a session's executor that a stopped run had to close (see
`parley.runtime._build.SessionExecutor`); it carries the words a pool reads as state lost."""
