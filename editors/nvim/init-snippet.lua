-- nextword in Neovim 0.11+: add this to your init.lua (with lsp/nextword.lua in your config folder).
vim.lsp.enable('nextword')
-- noselect: nothing in the menu is chosen until you choose it, so Enter at the end of a line
-- writes a line break and keeps the word you typed even while a menu of longer words is open
-- (Enter inserts a word only after <Up>/<Down> picked it; <C-y> accepts, <C-n>/<C-p> choose).
vim.opt.completeopt = { 'menuone', 'noselect', 'popup' }

vim.api.nvim_create_autocmd('LspAttach', {
  group = vim.api.nvim_create_augroup('nextword.attach', { clear = true }),
  callback = function(args)
    local client = vim.lsp.get_client_by_id(args.data.client_id)
    if not client or client.name ~= 'nextword' then
      return
    end
    local buf = args.buf
    -- Built-in completion: pops up after a space (the next word) and while you type a word.
    -- <C-n>/<C-p> move, <C-y> accepts; <C-Space> asks for the next word at any time.
    vim.lsp.completion.enable(true, client.id, buf, { autotrigger = true })
    vim.api.nvim_create_autocmd('InsertCharPre', {
      buffer = buf,
      group = vim.api.nvim_create_augroup('nextword.typing.' .. buf, { clear = true }),
      callback = function() -- autotrigger asks only after trigger characters; ask on letters too
        if vim.fn.pumvisible() == 0 and vim.fn.match(vim.v.char, [[\k]]) == 0 then
          vim.schedule(vim.lsp.completion.get)
        end
      end,
    })
    vim.keymap.set('i', '<C-Space>', vim.lsp.completion.get, { buffer = buf, desc = 'nextword: suggest' })
    -- :NextwordStatus (with what it learned from each workspace folder: its `workspaces`), :NextwordReload,
    -- :NextwordTrain (progress, and "Reading your notes" at start: :checkhealth vim.lsp, or vim.lsp.status()).
    for name, command in pairs({ Status = 'nextword.status', Reload = 'nextword.reloadModel', Train = 'nextword.trainWorkspace' }) do
      vim.api.nvim_buf_create_user_command(buf, 'Nextword' .. name, function()
        client:exec_cmd({ title = name, command = command }, { bufnr = buf }, function(err, result)
          vim.notify(err and err.message or vim.inspect(result), err and vim.log.levels.ERROR or vim.log.levels.INFO)
        end)
      end, { desc = 'nextword: ' .. command })
    end
    -- :NextwordForgetWorkspace deletes what the server learned from this buffer's workspace
    -- folder (its store in nextword's data folder); the notes themselves are not touched.
    vim.api.nvim_buf_create_user_command(buf, 'NextwordForgetWorkspace', function()
      local folder = client.root_dir and vim.uri_from_fname(client.root_dir) or nil
      client:exec_cmd({ title = 'Forget', command = 'nextword.forgetWorkspace', arguments = { folder } }, { bufnr = buf }, function(err, result)
        vim.notify(err and err.message or vim.inspect(result), err and vim.log.levels.ERROR or vim.log.levels.INFO)
      end)
    end, { desc = 'nextword: forget what was learned from this workspace folder' })
  end,
})
