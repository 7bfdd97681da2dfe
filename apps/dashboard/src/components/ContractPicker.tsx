import { useState } from 'react';

/** The contract a seed 000 page watches; editable, defaulting to the demo traffic's. */
export function ContractPicker({ value, onChange }: { value: string; onChange: (v: string) => void }) {
  const [draft, setDraft] = useState(value);
  return (
    <form
      className="inline-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (draft.trim()) onChange(draft.trim());
      }}
    >
      <label>
        Contract <input value={draft} onChange={(e) => setDraft(e.target.value)} spellCheck={false} size={48} />
      </label>
      <button type="submit">Watch</button>
    </form>
  );
}
