/**
 * Shell completion scripts. Both are thin: they pass the words typed so far to
 * `kvmctl __complete WORD…` (the same binary) and offer what it prints, one candidate per line;
 * a single line `:file` asks the shell to complete file names. The logic lives in complete.ts.
 */

export const BASH_COMPLETION = `# bash completion for kvmctl
# Load it in the current shell:   source <(kvmctl completion bash)
# Or install it:                  kvmctl completion bash > /etc/bash_completion.d/kvmctl
_kvmctl() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  local out
  out="$("\${COMP_WORDS[0]}" __complete "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)"
  if [[ "$out" == ":file" ]]; then
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
    return 0
  fi
  mapfile -t COMPREPLY < <(compgen -W "$out" -- "$cur")
  return 0
}
complete -o default -F _kvmctl kvmctl
`;

export const ZSH_COMPLETION = `#compdef kvmctl
# zsh completion for kvmctl
# Load it in the current shell:   source <(kvmctl completion zsh)
# Or install it:                  kvmctl completion zsh > "\${fpath[1]}/_kvmctl"   (then: compinit)
_kvmctl() {
  local out
  local -a candidates
  out="$("\${words[1]}" __complete "\${(@)words[2,CURRENT]}" 2>/dev/null)"
  if [[ "$out" == ":file" ]]; then
    _files
    return
  fi
  candidates=("\${(@f)out}")
  compadd -- "\${candidates[@]}"
}
if [[ "\${funcstack[1]}" == "_kvmctl" ]]; then
  _kvmctl "$@"
else
  compdef _kvmctl kvmctl
fi
`;
