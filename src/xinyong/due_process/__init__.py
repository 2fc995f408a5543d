"""Due process: objections, credit repair, disclosure after grace, corrections.

Notices are stored through :mod:`xinyong.decisions.notices`, which checks write too; what a
due-process notice says about the schemes in force comes from
:mod:`~xinyong.due_process.active_schemes`.
"""
