# Two commands for a new user: `make up` runs the whole system, `make test` runs every test.
# Both install what they need first (system packages if missing, then the locked Python deps).
.PHONY: up test install lint stack-start stack-stop bench

UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")

# --compile-bytecode: where PYTHONDONTWRITEBYTECODE is set (this machine sets it), nothing is
# ever cached, so every process compiled its libraries again at start: 4.0-4.3 s of CPU to
# import the system, 1.6-1.9 s with them compiled once here.
install:
	@bash scripts/install-prereqs.sh
	@$(UV) sync --locked --quiet --compile-bytecode

up: install
	$(UV) run sceneledger up

lint: install
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy

stack-start: install
	$(UV) run sceneledger stack start

stack-stop:
	$(UV) run sceneledger stack stop

test: lint stack-start
	$(UV) run pytest
